// Writer -> reader round trips of capture format v1: fp32 exact, fp16/bf16 to their rounding, GQA head
// mapping, per-layer windows, UTF-8 tokens, references, deflate on/off, the read-only guarantee, the
// writer's atomic replace, and the variations other writers (h5py) produce that the reader must accept.

#include <gtest/gtest.h>

#include <hdf5.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "attnscope/io/capture-reader.h"
#include "attnscope/io/capture-writer.h"
#include "capture-test-helpers.h"
#include "io/half-float.h"

namespace attnscope {
namespace {

using test::CaptureSpec;
using test::makeCapture;
using test::slab;
using test::writeSynthetic;

// Applies the storage type's rounding, which is what a reader must return.
std::vector<float> stored(const std::vector<float>& values, StorageType storage) {
    std::vector<float> result(values);
    for (float& v : result) {
        if (storage == StorageType::Float16) {
            v = half::float16ToFloat(half::floatToFloat16(v));
        } else if (storage == StorageType::BFloat16) {
            v = half::bfloat16ToFloat(half::floatToBfloat16(v));
        }
    }
    return result;
}

// Loads every (layer, query head) and compares with the source arrays after the storage rounding.
void expectAllHeadsMatch(const CaptureReader& reader, const test::SyntheticCapture& capture) {
    const CaptureInfo& info = capture.info;
    const int group = info.numQueryHeads / info.numKvHeads;
    for (int l = 0; l < info.numLayers; ++l) {
        for (int h = 0; h < info.numQueryHeads; ++h) {
            SCOPED_TRACE("layer " + std::to_string(l) + " head " + std::to_string(h));
            const HeadTensors head = reader.loadHead(l, h);
            const int kv = h / group;
            EXPECT_EQ(head.layer, l);
            EXPECT_EQ(head.queryHead, h);
            EXPECT_EQ(head.kvHead, kv);
            EXPECT_EQ(head.seqLen, info.seqLen);
            EXPECT_EQ(head.headDim, info.headDim);
            EXPECT_EQ(head.valueDim, info.valueDim);
            EXPECT_EQ(head.storage, info.storage);
            const auto& layer = capture.layers[static_cast<size_t>(l)];
            ASSERT_EQ(head.q, stored(slab(layer.q, h, info.seqLen, info.headDim), info.storage));
            ASSERT_EQ(head.k, stored(slab(layer.k, kv, info.seqLen, info.headDim), info.storage));
            ASSERT_EQ(head.v, stored(slab(layer.v, kv, info.seqLen, info.valueDim), info.storage));
        }
    }
}

TEST(CaptureRoundTrip, Float32IsExactAndInfoMatches) {
    auto capture = makeCapture({});
    capture.info.softcap = 30.0;
    capture.info.causal = false;
    const std::string path = writeSynthetic(capture);
    const CaptureReader reader = CaptureReader::open(path);
    const CaptureInfo& info = reader.info();
    EXPECT_EQ(info.path, path);
    EXPECT_EQ(info.version, 1);
    EXPECT_EQ(info.model, capture.info.model);
    EXPECT_EQ(info.modelType, "llama");
    EXPECT_EQ(info.source, "attnscope tests");
    EXPECT_EQ(info.created, "2025-01-02T03:04:05Z");
    EXPECT_EQ(info.prompt, capture.info.prompt);
    EXPECT_FALSE(info.causal);
    EXPECT_TRUE(info.ropeApplied);
    EXPECT_EQ(info.softmaxScale, capture.info.softmaxScale);
    EXPECT_EQ(info.softcap, 30.0);
    EXPECT_EQ(info.numLayers, 2);
    EXPECT_EQ(info.numQueryHeads, 4);
    EXPECT_EQ(info.numKvHeads, 2);
    EXPECT_EQ(info.headDim, 8);
    EXPECT_EQ(info.valueDim, 8);
    EXPECT_EQ(info.seqLen, 16);
    EXPECT_EQ(info.storage, StorageType::Float32);
    ASSERT_EQ(info.layers.size(), 2u);
    EXPECT_TRUE(info.references.empty());
    expectAllHeadsMatch(reader, capture);

    const HeadTensors head = reader.loadHead(1, 3);
    EXPECT_FALSE(head.config.causal);
    EXPECT_FLOAT_EQ(head.config.softmaxScale, static_cast<float>(capture.info.softmaxScale));
    EXPECT_FLOAT_EQ(head.config.softcap, 30.0f);
    EXPECT_EQ(head.config.slidingWindow, 0);
}

TEST(CaptureRoundTrip, Float16RoundsToNearestEven) {
    CaptureSpec spec;
    spec.storage = StorageType::Float16;
    auto capture = makeCapture(spec);
    // Values whose fp16 rounding is a tie or near the limits, so a truncating writer would fail.
    capture.layers[0].q[0] = 1.0f + std::ldexp(1.0f, -11);
    capture.layers[0].q[1] = 65504.0f;
    capture.layers[0].q[2] = std::ldexp(1.0f, -24);
    capture.layers[0].q[3] = -3.14159265f;
    const std::string path = writeSynthetic(capture);
    const CaptureReader reader = CaptureReader::open(path);
    EXPECT_EQ(reader.info().storage, StorageType::Float16);
    expectAllHeadsMatch(reader, capture);
    const HeadTensors head = reader.loadHead(0, 0);
    EXPECT_EQ(head.q[0], 1.0f);
    EXPECT_EQ(head.q[1], 65504.0f);
    EXPECT_EQ(head.q[2], std::ldexp(1.0f, -24));
    EXPECT_NEAR(head.q[3], -3.14159265f, 1e-3f);
    EXPECT_NE(head.q[3], -3.14159265f);
}

TEST(CaptureRoundTrip, Bfloat16RoundsToNearestEven) {
    CaptureSpec spec;
    spec.storage = StorageType::BFloat16;
    auto capture = makeCapture(spec);
    capture.layers[1].k[5] = std::bit_cast<float>(0x3F808000u);  // tie: rounds down to even 0x3F80
    capture.layers[1].k[6] = std::bit_cast<float>(0x3F818000u);  // tie: rounds up to even 0x3F82
    const std::string path = writeSynthetic(capture);
    const CaptureReader reader = CaptureReader::open(path);
    EXPECT_EQ(reader.info().storage, StorageType::BFloat16);
    expectAllHeadsMatch(reader, capture);
    const HeadTensors head = reader.loadHead(1, 0);
    EXPECT_EQ(std::bit_cast<uint32_t>(head.k[5]), 0x3F800000u);
    EXPECT_EQ(std::bit_cast<uint32_t>(head.k[6]), 0x3F820000u);
}

TEST(CaptureRoundTrip, GqaQueryHeadReadsItsKvHead) {
    CaptureSpec spec;
    spec.numQueryHeads = 12;
    spec.numKvHeads = 3;
    spec.valueDim = 5;  // dv != d
    auto capture = makeCapture(spec);
    const std::string path = writeSynthetic(capture);
    const CaptureReader reader = CaptureReader::open(path);
    EXPECT_EQ(reader.info().valueDim, 5);
    for (int h = 0; h < 12; ++h) {
        EXPECT_EQ(reader.info().kvHeadFor(h), h / 4);
        const HeadTensors head = reader.loadHead(1, h);
        EXPECT_EQ(head.kvHead, h / 4);
        EXPECT_EQ(head.k, slab(capture.layers[1].k, h / 4, spec.seqLen, spec.headDim));
        EXPECT_EQ(head.v, slab(capture.layers[1].v, h / 4, spec.seqLen, 5));
        EXPECT_EQ(head.v.size(), static_cast<size_t>(spec.seqLen) * 5);
    }
}

TEST(CaptureRoundTrip, PerLayerSlidingWindow) {
    CaptureSpec spec;
    spec.numLayers = 3;
    auto capture = makeCapture(spec);
    capture.layers[0].config.slidingWindow = 4;
    capture.layers[2].config.slidingWindow = 4096;
    const std::string path = writeSynthetic(capture);
    const CaptureReader reader = CaptureReader::open(path);
    const CaptureInfo& info = reader.info();
    ASSERT_EQ(info.layers.size(), 3u);
    EXPECT_EQ(info.layers[0].slidingWindow, 4);
    EXPECT_EQ(info.layers[1].slidingWindow, 0);
    EXPECT_EQ(info.layers[2].slidingWindow, 4096);
    EXPECT_EQ(info.attentionConfig(0).slidingWindow, 4);
    EXPECT_EQ(info.attentionConfig(1).slidingWindow, 0);
    EXPECT_EQ(reader.loadHead(2, 1).config.slidingWindow, 4096);
    EXPECT_TRUE(info.attentionConfig(1).causal);

    // The writer puts the attribute only on windowed layers (0 means none).
    hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    EXPECT_GT(H5Aexists_by_name(file, "/layers/0", "sliding_window", H5P_DEFAULT), 0);
    EXPECT_EQ(H5Aexists_by_name(file, "/layers/1", "sliding_window", H5P_DEFAULT), 0);
    H5Fclose(file);
}

TEST(CaptureRoundTrip, TokensWithUtf8TextAndSpecialFlags) {
    auto capture = makeCapture({});
    const std::string path = writeSynthetic(capture);
    const CaptureReader reader = CaptureReader::open(path);
    const CaptureTokens& tokens = reader.info().tokens;
    EXPECT_EQ(tokens.ids, capture.info.tokens.ids);  // includes an id above 2^32
    EXPECT_EQ(tokens.text, capture.info.tokens.text);
    EXPECT_EQ(tokens.special, capture.info.tokens.special);
    EXPECT_EQ(tokens.text[4], " 🙂");
    EXPECT_EQ(tokens.text[5], "");
    EXPECT_EQ(tokens.special[0], 1);
    EXPECT_EQ(tokens.special[1], 0);
}

TEST(CaptureRoundTrip, MissingSpecialDatasetMeansNoSpecialTokens) {
    auto capture = makeCapture({});
    capture.info.tokens.special.clear();
    const std::string path = writeSynthetic(capture);
    const CaptureReader reader = CaptureReader::open(path);
    EXPECT_EQ(reader.info().tokens.special, std::vector<uint8_t>(16, 0));
}

TEST(CaptureRoundTrip, ReferencesRoundTrip) {
    auto capture = makeCapture({});
    for (int r = 0; r < 2; ++r) {
        ReferenceValues ref;
        ref.info.name = r == 0 ? "L1_H3" : "L0_H2";
        ref.info.layer = r == 0 ? 1 : 0;
        ref.info.queryHead = r == 0 ? 3 : 2;
        ref.info.source = "transformers 4.57.1 eager attention";
        ref.rows = {0, 5, 15};
        for (size_t i = 0; i < ref.rows.size() * 16; ++i) {
            ref.probs.push_back(static_cast<float>(i) / 48.0f + static_cast<float>(r));
        }
        ref.lse = {0.5f, -1.25f, 3.0f + static_cast<float>(r)};
        capture.references.push_back(ref);
    }
    const std::string path = writeSynthetic(capture);
    const CaptureReader reader = CaptureReader::open(path);
    const auto& refs = reader.info().references;
    ASSERT_EQ(refs.size(), 2u);
    // Listed by (layer, head).
    EXPECT_EQ(refs[0].name, "L0_H2");
    EXPECT_EQ(refs[0].layer, 0);
    EXPECT_EQ(refs[0].queryHead, 2);
    EXPECT_EQ(refs[1].name, "L1_H3");
    EXPECT_EQ(refs[1].source, "transformers 4.57.1 eager attention");
    for (const auto& expected : capture.references) {
        const ReferenceValues got = reader.loadReference(expected.info.name);
        EXPECT_EQ(got.info.name, expected.info.name);
        EXPECT_EQ(got.info.layer, expected.info.layer);
        EXPECT_EQ(got.info.queryHead, expected.info.queryHead);
        EXPECT_EQ(got.rows, expected.rows);
        EXPECT_EQ(got.probs, expected.probs);
        EXPECT_EQ(got.lse, expected.lse);
    }
}

TEST(CaptureRoundTrip, DeflateOnAndOffReadTheSame) {
    CaptureSpec spec;
    spec.seqLen = 256;
    spec.headDim = 32;
    spec.valueDim = 32;
    auto capture = makeCapture(spec);
    // Low-entropy values so compression visibly shrinks the file.
    for (auto& layer : capture.layers) {
        for (auto* tensor : {&layer.q, &layer.k, &layer.v}) {
            for (size_t i = 0; i < tensor->size(); ++i) {
                (*tensor)[i] = static_cast<float>(i % 7) * 0.25f;
            }
        }
    }
    CaptureWriteOptions plain;
    plain.deflate = false;
    CaptureWriteOptions compressed;
    compressed.deflate = true;
    compressed.deflateLevel = 6;
    const std::string plainPath = writeSynthetic(capture, "-plain", plain);
    const std::string deflatePath = writeSynthetic(capture, "-deflate", compressed);
    EXPECT_LT(std::filesystem::file_size(deflatePath), std::filesystem::file_size(plainPath) / 2);

    for (const std::string& path : {plainPath, deflatePath}) {
        const CaptureReader reader = CaptureReader::open(path);
        expectAllHeadsMatch(reader, capture);
        hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t dataset = H5Dopen2(file, "/layers/0/q", H5P_DEFAULT);
        hid_t dcpl = H5Dget_create_plist(dataset);
        hsize_t chunk[3] = {};
        EXPECT_EQ(H5Pget_layout(dcpl), H5D_CHUNKED);
        EXPECT_EQ(H5Pget_chunk(dcpl, 3, chunk), 3);
        EXPECT_EQ(chunk[0], 1u);
        EXPECT_EQ(chunk[1], 256u);  // min(T, 4096)
        EXPECT_EQ(chunk[2], 32u);
        EXPECT_EQ(H5Pget_nfilters(dcpl), path == plainPath ? 0 : 2);  // shuffle + deflate
        H5Pclose(dcpl);
        H5Dclose(dataset);
        H5Fclose(file);
    }
}

TEST(CaptureRoundTrip, EveryHeadOfAMultiLayerFileIsItsOwnSlab) {
    CaptureSpec spec;
    spec.numLayers = 4;
    spec.numQueryHeads = 8;
    spec.numKvHeads = 4;
    spec.seqLen = 40;
    spec.headDim = 16;
    spec.valueDim = 12;
    for (StorageType storage : {StorageType::Float32, StorageType::Float16, StorageType::BFloat16}) {
        spec.storage = storage;
        auto capture = makeCapture(spec);
        const char* suffix = storage == StorageType::Float32 ? "-f32" : storage == StorageType::Float16 ? "-f16" : "-bf16";
        const std::string path = writeSynthetic(capture, suffix);
        expectAllHeadsMatch(CaptureReader::open(path), capture);
    }
}

// A loadHead touches only its own chunks: with head 1's chunk of q destroyed, every other head still
// loads, and head 1 reports the read failure.
TEST(CaptureRoundTrip, LoadHeadReadsOnlyItsOwnChunks) {
    auto capture = makeCapture({});
    for (float& v : capture.layers[0].q) {
        v = 0.5f;  // compressible, so the chunk holds deflate data that garbage cannot impersonate
    }
    const std::string path = writeSynthetic(capture);
    {
        hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t dataset = H5Dopen2(file, "/layers/0/q", H5P_DEFAULT);
        hid_t space = H5Dget_space(dataset);
        hsize_t offset[3] = {};
        unsigned mask = 0;
        haddr_t address = 0;
        hsize_t size = 0;
        ASSERT_GE(H5Dget_chunk_info(dataset, space, 1, offset, &mask, &address, &size), 0);
        ASSERT_EQ(offset[0], 1u);
        H5Sclose(space);
        H5Dclose(dataset);
        H5Fclose(file);
        auto bytes = test::readBytes(path);
        for (hsize_t i = 0; i < size; ++i) {
            bytes[address + i] = static_cast<unsigned char>(0xA5 ^ i);
        }
        test::writeBytes(path, bytes);
    }
    const CaptureReader reader = CaptureReader::open(path);
    for (int h = 0; h < 4; ++h) {
        if (h == 1) {
            EXPECT_THROW(reader.loadHead(0, h), CaptureError);
            continue;
        }
        EXPECT_EQ(reader.loadHead(0, h).q, std::vector<float>(16 * 8, 0.5f));
    }
}

TEST(CaptureRoundTrip, ReaderNeverModifiesTheFile) {
    auto capture = makeCapture({});
    const std::string path = writeSynthetic(capture);
    const auto before = test::readBytes(path);
    const auto mtime = std::filesystem::last_write_time(path);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let a write show in the mtime
    {
        const CaptureReader reader = CaptureReader::open(path);
        for (int l = 0; l < 2; ++l) {
            for (int h = 0; h < 4; ++h) {
                (void)reader.loadHead(l, h);
            }
        }
    }
    EXPECT_EQ(test::readBytes(path), before);
    EXPECT_EQ(std::filesystem::last_write_time(path), mtime);
}

TEST(CaptureRoundTrip, ReaderOpensAReadOnlyFile) {
    auto capture = makeCapture({});
    const std::string path = writeSynthetic(capture);
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::group_read);
    EXPECT_EQ(CaptureReader::open(path).loadHead(0, 0).q, slab(capture.layers[0].q, 0, 16, 8));
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(CaptureRoundTrip, ReaderIsMovableAndInfoSurvivesTheMove) {
    auto capture = makeCapture({});
    const std::string path = writeSynthetic(capture);
    CaptureReader first = CaptureReader::open(path);
    CaptureReader second = std::move(first);
    EXPECT_EQ(second.info().numLayers, 2);
    EXPECT_EQ(second.loadHead(1, 1).kvHead, 0);
}

TEST(CaptureWriter, DefaultsForSourceCreatedAndValueDim) {
    auto capture = makeCapture({});
    capture.info.source.clear();
    capture.info.created.clear();
    capture.info.valueDim = 0;  // means head_dim
    const std::string path = writeSynthetic(capture);
    const CaptureInfo info = CaptureReader::open(path).info();
    EXPECT_EQ(info.source.rfind("attnscope-core ", 0), 0u) << info.source;
    ASSERT_EQ(info.created.size(), 20u) << info.created;  // YYYY-MM-DDTHH:MM:SSZ
    EXPECT_EQ(info.created[4], '-');
    EXPECT_EQ(info.created[10], 'T');
    EXPECT_EQ(info.created[19], 'Z');
    EXPECT_EQ(info.valueDim, 8);
}

TEST(CaptureWriter, ReplacesAnExistingFileAtomicallyAndLeavesNoTemporaryFiles) {
    auto capture = makeCapture({});
    const std::string path = writeSynthetic(capture);
    const auto original = test::readBytes(path);

    // Bad input fails before anything is created; the existing file is untouched.
    auto broken = capture;
    broken.layers[1].v.pop_back();
    try {
        writeCapture(path, broken.info, broken.layers);
        FAIL() << "expected InvalidArgument";
    } catch (const CaptureError& e) {
        EXPECT_EQ(e.kind(), CaptureErrorKind::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("layers[1].v"), std::string::npos) << e.what();
    }
    // A value fp16 cannot hold fails mid-write; the temporary file is removed, the original kept.
    auto overflow = capture;
    overflow.info.storage = StorageType::Float16;
    overflow.layers[1].k[3] = 1e6f;
    try {
        writeCapture(path, overflow.info, overflow.layers);
        FAIL() << "expected InvalidArgument";
    } catch (const CaptureError& e) {
        EXPECT_EQ(e.kind(), CaptureErrorKind::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("/layers/1/k"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("float16"), std::string::npos) << e.what();
    }
    EXPECT_EQ(test::readBytes(path), original);

    capture.info.model = "replaced";
    writeCapture(path, capture.info, capture.layers);
    EXPECT_EQ(CaptureReader::open(path).info().model, "replaced");

    const auto dir = std::filesystem::path(path).parent_path();
    const std::string stem = std::filesystem::path(path).filename().string();
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        EXPECT_EQ(entry.path().filename().string().find("." + stem + ".tmp"), std::string::npos)
            << "leftover " << entry.path();
    }
}

TEST(CaptureWriter, FailsCleanlyWhenTheDirectoryDoesNotExist) {
    auto capture = makeCapture({});
    const std::string path = test::testFilePath() + ".missing-dir/capture.h5";
    try {
        writeCapture(path, capture.info, capture.layers);
        FAIL() << "expected WriteFailed";
    } catch (const CaptureError& e) {
        EXPECT_EQ(e.kind(), CaptureErrorKind::WriteFailed);
        EXPECT_EQ(e.file(), path);
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("expected"), std::string::npos);
    }
}

TEST(CaptureWriter, FailsCleanlyWhenTheTargetIsADirectory) {
    auto capture = makeCapture({});
    const std::string path = test::testFilePath("-dir");
    std::filesystem::create_directories(path);
    std::filesystem::create_directories(path + "/inside");  // a non-empty directory cannot be replaced
    try {
        writeCapture(path, capture.info, capture.layers);
        FAIL() << "expected WriteFailed";
    } catch (const CaptureError& e) {
        EXPECT_EQ(e.kind(), CaptureErrorKind::WriteFailed);
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    }
    // Only this target's temporaries ("." + name + ".tmp-..."): other tests running in parallel
    // write their own files into the same directory.
    const std::string ownPrefix = "." + std::filesystem::path(path).filename().string() + ".tmp-";
    for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) {
        EXPECT_NE(entry.path().filename().string().rfind(ownPrefix, 0), 0u) << "leftover " << entry.path();
    }
    std::filesystem::remove_all(path);
}

// --- what other writers produce (h5py, numpy) and the reader must accept -----------------------------

TEST(CaptureInterop, FixedLengthStringsAndOtherIntegerAndFloatTypes) {
    auto capture = makeCapture({});
    const std::string path = writeSynthetic(capture);
    {
        test::RawEditor edit(path);
        // numpy bytes -> fixed-length ASCII strings
        edit.setStringAttribute("/", "format", "attnscope-capture", true);
        edit.setStringAttribute("/", "model", "fixed/model", true);
        edit.setStringAttribute("/", "dtype", "float32", true);
        // narrower and unsigned integers, a float32 scale, an h5py bool
        edit.setIntegerAttribute("/", "version", 1, H5T_STD_U8LE);
        edit.setIntegerAttribute("/", "num_layers", 2, H5T_STD_I32BE);
        edit.setIntegerAttribute("/", "seq_len", 16, H5T_STD_U16LE);
        edit.setBoolAttribute("/", "causal", false);
        edit.setFloatAttribute("/", "softmax_scale", 0.125, H5T_IEEE_F32BE);
        edit.setIntegerAttribute("/layers/1", "sliding_window", 3, H5T_STD_I16LE);
        // int32 ids and fixed-length token text
        edit.replaceDataset("/tokens/ids", H5T_STD_I32LE, {16}, 7.0);
        hid_t textType = H5Tcopy(H5T_C_S1);
        H5Tset_size(textType, 6);
        H5Tset_strpad(textType, H5T_STR_NULLPAD);
        edit.replaceDataset("/tokens/text", textType, {16});
        hid_t dataset = H5Dopen2(edit.file(), "/tokens/text", H5P_DEFAULT);
        std::string text(16 * 6, '\0');
        for (int t = 0; t < 16; ++t) {
            text.replace(static_cast<size_t>(t) * 6, 3, "tok");
        }
        text.replace(0, 6, "abcdef");  // fills all 6 bytes: no terminator
        ASSERT_GE(H5Dwrite(dataset, textType, H5S_ALL, H5S_ALL, H5P_DEFAULT, text.data()), 0);
        H5Dclose(dataset);
        H5Tclose(textType);
    }
    const CaptureReader reader = CaptureReader::open(path);
    const CaptureInfo& info = reader.info();
    EXPECT_EQ(info.model, "fixed/model");
    EXPECT_FALSE(info.causal);
    EXPECT_EQ(info.softmaxScale, 0.125);
    EXPECT_EQ(info.layers[1].slidingWindow, 3);
    EXPECT_EQ(info.tokens.ids, std::vector<int64_t>(16, 7));
    EXPECT_EQ(info.tokens.text[0], "abcdef");
    EXPECT_EQ(info.tokens.text[1], "tok");
    expectAllHeadsMatch(reader, capture);
}

TEST(CaptureInterop, ContiguousBigEndianFloat32Dataset) {
    auto capture = makeCapture({});
    const std::string path = writeSynthetic(capture);
    {
        test::RawEditor edit(path);
        edit.replaceDataset("/layers/1/k", H5T_IEEE_F32BE, {2, 16, 8});
        hid_t dataset = H5Dopen2(edit.file(), "/layers/1/k", H5P_DEFAULT);
        ASSERT_GE(H5Dwrite(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, capture.layers[1].k.data()), 0);
        H5Dclose(dataset);
    }
    expectAllHeadsMatch(CaptureReader::open(path), capture);
}

TEST(CaptureInterop, OptionalAttributesMayBeAbsent) {
    auto capture = makeCapture({});
    const std::string path = writeSynthetic(capture);
    {
        test::RawEditor edit(path);
        edit.deleteAttribute("/", "softcap");
        edit.deleteAttribute("/", "value_dim");
        edit.deleteAttribute("/", "prompt");
    }
    const CaptureInfo info = CaptureReader::open(path).info();
    EXPECT_EQ(info.softcap, 0.0);
    EXPECT_EQ(info.valueDim, info.headDim);
    EXPECT_EQ(info.prompt, "");
}

TEST(CaptureInterop, UnknownExtrasAreIgnored) {
    auto capture = makeCapture({});
    const std::string path = writeSynthetic(capture);
    {
        test::RawEditor edit(path);
        edit.setStringAttribute("/", "future_attribute", "whatever");
        edit.replaceDataset("/layers/0/extra", H5T_STD_I8LE, {3});
        edit.replaceDataset("/notes", H5T_STD_I8LE, {1});
    }
    expectAllHeadsMatch(CaptureReader::open(path), capture);
}

}  // namespace
}  // namespace attnscope
