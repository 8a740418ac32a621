// CaptureReader::loadLayer, the whole-model overview's reading: HDF5 reads on the calling thread while
// helper threads widen and check the slabs already read. Whatever the thread count, a layer must equal
// its heads loaded one by one with loadHead, every 16-bit pattern must widen exactly, and a defect must
// be reported as the serial reader did: the first non-finite value in (q, k, v; head; position) order,
// and a read failure only when no earlier slab holds a non-finite value.

#include <gtest/gtest.h>

#include <hdf5.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "attnscope/io/capture-reader.h"
#include "capture-test-helpers.h"
#include "io/half-float.h"

namespace attnscope {
namespace {

using Kind = CaptureErrorKind;
using test::CaptureSpec;
using test::makeCapture;
using test::writeSynthetic;

constexpr int kThreadCounts[] = {1, 2, 3, 8};

// q slabs of 2900 x 48 = 139200 elements: more than one conversion chunk (128 Ki elements) per head.
CaptureSpec largeSpec(StorageType storage) {
    CaptureSpec spec;
    spec.numLayers = 2;
    spec.numQueryHeads = 4;
    spec.numKvHeads = 2;
    spec.headDim = 48;
    spec.valueDim = 40;
    spec.seqLen = 2900;
    spec.storage = storage;
    return spec;
}

CaptureWriteOptions plain() {
    CaptureWriteOptions options;
    options.deflate = false;
    return options;
}

void expectBitsEqual(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) {
            FAIL() << what << ": element " << i << " is " << a[i] << ", expected " << b[i];
        }
    }
}

// The layer as loadHead gives it, head by head: q of every query head, k and v of every KV head.
LayerTensors layerFromHeads(const CaptureReader& reader, int layer) {
    const CaptureInfo& info = reader.info();
    LayerTensors out;
    const int group = info.numQueryHeads / info.numKvHeads;
    for (int h = 0; h < info.numQueryHeads; ++h) {
        const HeadTensors head = reader.loadHead(layer, h);
        out.q.insert(out.q.end(), head.q.begin(), head.q.end());
        if (h % group == 0) {
            out.k.insert(out.k.end(), head.k.begin(), head.k.end());
            out.v.insert(out.v.end(), head.v.begin(), head.v.end());
        }
    }
    return out;
}

void expectLayerMatchesHeads(const CaptureReader& reader, int layer, const LayerTensors& got) {
    const CaptureInfo& info = reader.info();
    EXPECT_EQ(got.layer, layer);
    EXPECT_EQ(got.qHeads, info.numQueryHeads);
    EXPECT_EQ(got.kvHeads, info.numKvHeads);
    EXPECT_EQ(got.seqLen, info.seqLen);
    EXPECT_EQ(got.headDim, info.headDim);
    EXPECT_EQ(got.valueDim, info.valueDim);
    EXPECT_EQ(got.storage, info.storage);
    EXPECT_EQ(got.config.causal, info.causal);
    EXPECT_EQ(got.config.slidingWindow, info.attentionConfig(layer).slidingWindow);
    EXPECT_NO_THROW(validateLayerTensors(got));
    const LayerTensors expected = layerFromHeads(reader, layer);
    expectBitsEqual(got.q, expected.q, "q");
    expectBitsEqual(got.k, expected.k, "k");
    expectBitsEqual(got.v, expected.v, "v");
}

class CaptureLayer : public ::testing::TestWithParam<StorageType> {};

TEST_P(CaptureLayer, MatchesPerHeadLoadsAtEveryThreadCount) {
    const auto capture = makeCapture(largeSpec(GetParam()));
    const std::string path = writeSynthetic(capture, "", plain());
    const CaptureReader reader = CaptureReader::open(path);
    for (int layer = 0; layer < 2; ++layer) {
        SCOPED_TRACE("layer " + std::to_string(layer));
        expectLayerMatchesHeads(reader, layer, reader.loadLayer(layer));
        for (int threads : kThreadCounts) {
            SCOPED_TRACE("threads " + std::to_string(threads));
            LayerTensors into;
            reader.loadLayer(layer, into, threads);
            expectLayerMatchesHeads(reader, layer, into);
        }
    }
    if (GetParam() == StorageType::Float32) {  // fp32 reads straight into place: the written values
        const LayerTensors got = reader.loadLayer(1);
        expectBitsEqual(got.q, capture.layers[1].q, "q as written");
        expectBitsEqual(got.v, capture.layers[1].v, "v as written");
    }
}

// Loading into a LayerTensors that held another layer (larger, smaller or of another file) reuses its
// storage and gives exactly what a fresh load gives.
TEST_P(CaptureLayer, ReusedTensorsGiveTheSameLayer) {
    const std::string path = writeSynthetic(makeCapture(largeSpec(GetParam())), "", plain());
    CaptureSpec smallSpec;
    smallSpec.storage = GetParam();
    const std::string smallPath = writeSynthetic(makeCapture(smallSpec), "-small");
    const CaptureReader reader = CaptureReader::open(path);
    const CaptureReader small = CaptureReader::open(smallPath);

    LayerTensors into;
    reader.loadLayer(0, into, 2);
    const float* storage = into.q.data();
    reader.loadLayer(1, into, 2);
    EXPECT_EQ(into.q.data(), storage) << "the same size reuses the storage";
    expectLayerMatchesHeads(reader, 1, into);

    small.loadLayer(1, into);
    expectLayerMatchesHeads(small, 1, into);
    reader.loadLayer(0, into, 3);
    expectLayerMatchesHeads(reader, 0, into);
}

INSTANTIATE_TEST_SUITE_P(Storage, CaptureLayer,
                         ::testing::Values(StorageType::Float32, StorageType::Float16, StorageType::BFloat16),
                         [](const auto& info) { return std::string(storageTypeName(info.param)); });

// Every finite 16-bit pattern, written as the value it encodes, widens back to exactly that value
// (fp16: subnormals, signed zeros and the largest values included).
TEST(CaptureLayerWidening, EveryFinite16BitPatternWidensExactly) {
    for (StorageType storage : {StorageType::Float16, StorageType::BFloat16}) {
        SCOPED_TRACE(storageTypeName(storage));
        std::vector<float> finite;
        for (uint32_t bits = 0; bits < 65536; ++bits) {
            const auto b = static_cast<uint16_t>(bits);
            const float x = storage == StorageType::Float16 ? half::float16ToFloat(b) : half::bfloat16ToFloat(b);
            if (std::isfinite(x)) {
                finite.push_back(x);
            }
        }
        CaptureSpec spec;
        spec.numLayers = 1;
        spec.numQueryHeads = 4;
        spec.numKvHeads = 1;
        spec.headDim = 64;
        spec.valueDim = 64;
        spec.seqLen = 256;  // q: 65536 elements, every finite pattern at least once
        spec.storage = storage;
        auto capture = makeCapture(spec);
        std::vector<float>& q = capture.layers[0].q;
        ASSERT_GE(q.size(), finite.size());
        for (size_t i = 0; i < q.size(); ++i) {
            q[i] = finite[i % finite.size()];
        }
        const std::string path = writeSynthetic(capture, storageTypeName(storage), plain());
        const CaptureReader reader = CaptureReader::open(path);
        for (int threads : kThreadCounts) {
            LayerTensors layer;
            reader.loadLayer(0, layer, threads);
            expectBitsEqual(layer.q, q, std::string("q with ") + std::to_string(threads) + " threads");
        }
        expectLayerMatchesHeads(reader, 0, reader.loadLayer(0));
    }
}

// --- defects -------------------------------------------------------------------------------------------

// Writes one raw element [head, token, channel] of a layer tensor: a float through HDF5's conversion
// (fp32 and fp16 files), or bf16 bits for bfloat16 files (stored as uint16).
void putValue(const std::string& path, StorageType storage, const std::string& dataset, int head, int token,
              int channel, float value) {
    hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    hid_t data = H5Dopen2(file, dataset.c_str(), H5P_DEFAULT);
    ASSERT_GE(data, 0);
    hid_t space = H5Dget_space(data);
    const hsize_t start[3] = {static_cast<hsize_t>(head), static_cast<hsize_t>(token), static_cast<hsize_t>(channel)};
    const hsize_t count[3] = {1, 1, 1};
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    const hsize_t one = 1;
    hid_t memory = H5Screate_simple(1, &one, nullptr);
    herr_t status = 0;
    if (storage == StorageType::BFloat16) {
        const uint16_t bits = static_cast<uint16_t>(std::bit_cast<uint32_t>(value) >> 16);
        status = H5Dwrite(data, H5T_NATIVE_UINT16, memory, space, H5P_DEFAULT, &bits);
    } else {
        status = H5Dwrite(data, H5T_NATIVE_FLOAT, memory, space, H5P_DEFAULT, &value);
    }
    EXPECT_GE(status, 0);
    H5Sclose(memory);
    H5Sclose(space);
    H5Dclose(data);
    H5Fclose(file);
}

// Overwrites the stored bytes of every chunk of head `head` of a deflate-compressed dataset, so reading
// that head fails in HDF5 (not a deflate stream).
void corruptHead(const std::string& path, const std::string& dataset, int head) {
    std::vector<std::pair<haddr_t, hsize_t>> chunks;
    {
        hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t data = H5Dopen2(file, dataset.c_str(), H5P_DEFAULT);
        hid_t space = H5Dget_space(data);
        hsize_t total = 0;
        ASSERT_GE(H5Dget_num_chunks(data, space, &total), 0);
        for (hsize_t i = 0; i < total; ++i) {
            hsize_t offset[3] = {};
            unsigned mask = 0;
            haddr_t address = 0;
            hsize_t size = 0;
            ASSERT_GE(H5Dget_chunk_info(data, space, i, offset, &mask, &address, &size), 0);
            if (offset[0] == static_cast<hsize_t>(head)) {
                chunks.emplace_back(address, size);
            }
        }
        H5Sclose(space);
        H5Dclose(data);
        H5Fclose(file);
    }
    ASSERT_FALSE(chunks.empty());
    auto bytes = test::readBytes(path);
    for (const auto& [address, size] : chunks) {
        for (hsize_t i = 0; i < size; ++i) {
            bytes[address + i] = 0xFF;
        }
    }
    test::writeBytes(path, bytes);
}

// The error loadLayer throws, or a failure when none is thrown.
CaptureError layerError(const CaptureReader& reader, int layer, int threads) {
    try {
        LayerTensors into;
        reader.loadLayer(layer, into, threads);
    } catch (const CaptureError& error) {
        return error;
    }
    ADD_FAILURE() << "no CaptureError thrown with " << threads << " threads";
    return CaptureError(Kind::ReadFailed, "", "", "", "");
}

void expectSameErrorAtEveryThreadCount(const CaptureReader& reader, int layer, Kind kind, const std::string& object,
                                       const std::string& found) {
    for (int threads : {0, 1, 2, 3, 8}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        const CaptureError error = layerError(reader, layer, threads);
        EXPECT_EQ(error.kind(), kind) << error.what();
        EXPECT_EQ(error.object(), object) << error.what();
        EXPECT_EQ(error.found().rfind(found, 0), 0u) << error.what();
        if (kind == Kind::NonFiniteValue) {
            EXPECT_EQ(error.expected(), "finite values");
        }
    }
}

class CaptureLayerDefects : public ::testing::TestWithParam<StorageType> {};

// Several non-finite values: the one reported is the first in q, k, v order, then head order, then
// position within the head, as in the serial reader, whichever thread found which one first. Here a
// later chunk of q head 1 and the first chunk of q head 2 both hold one: head 1's is reported.
TEST_P(CaptureLayerDefects, FirstNonFiniteValueInReadingOrder) {
    const StorageType storage = GetParam();
    const std::string path = writeSynthetic(makeCapture(largeSpec(storage)), "", plain());
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    putValue(path, storage, "/layers/1/v", 0, 0, 0, nan);
    putValue(path, storage, "/layers/1/k", 1, 7, 3, inf);
    putValue(path, storage, "/layers/1/q", 2, 0, 0, nan);
    putValue(path, storage, "/layers/1/q", 1, 2899, 47, -inf);  // head 1's last element (second chunk)
    putValue(path, storage, "/layers/1/q", 1, 2800, 5, inf);    // earlier in head 1: this one
    {
        const CaptureReader reader = CaptureReader::open(path);
        expectSameErrorAtEveryThreadCount(reader, 1, Kind::NonFiniteValue, "/layers/1/q",
                                          "+Inf at head 1, token 2800, channel 5");
        EXPECT_NO_THROW((void)reader.loadLayer(0));  // the other layer is fine
    }  // closed: the file is edited again

    // Without the q values, k comes before v.
    putValue(path, storage, "/layers/1/q", 1, 2800, 5, 0.5f);
    putValue(path, storage, "/layers/1/q", 1, 2899, 47, 0.5f);
    putValue(path, storage, "/layers/1/q", 2, 0, 0, 0.5f);
    const CaptureReader again = CaptureReader::open(path);
    expectSameErrorAtEveryThreadCount(again, 1, Kind::NonFiniteValue, "/layers/1/k",
                                      "+Inf at head 1, token 7, channel 3");
    // And the message is the one loadHead gives for that KV head.
    try {
        (void)again.loadHead(1, 2);
        ADD_FAILURE() << "loadHead did not throw";
    } catch (const CaptureError& error) {
        EXPECT_EQ(std::string(error.what()), std::string(layerError(again, 1, 2).what()));
    }
}

// A read failure of a later slab does not hide a non-finite value of an earlier one, and a non-finite
// value of a later slab does not hide an earlier read failure (deflate chunks overwritten with junk).
TEST_P(CaptureLayerDefects, ReadFailureAndNonFiniteValueInReadingOrder) {
    const StorageType storage = GetParam();
    auto spec = largeSpec(storage);
    spec.seqLen = 600;
    {
        const std::string path = writeSynthetic(makeCapture(spec), "-nonfinite-first");
        putValue(path, storage, "/layers/0/q", 3, 10, 1, std::numeric_limits<float>::quiet_NaN());
        corruptHead(path, "/layers/0/k", 1);
        const CaptureReader reader = CaptureReader::open(path);
        expectSameErrorAtEveryThreadCount(reader, 0, Kind::NonFiniteValue, "/layers/0/q",
                                          "NaN at head 3, token 10, channel 1");
    }
    {
        const std::string path = writeSynthetic(makeCapture(spec), "-read-failure-first");
        putValue(path, storage, "/layers/0/v", 0, 10, 1, std::numeric_limits<float>::quiet_NaN());
        corruptHead(path, "/layers/0/k", 1);
        const CaptureReader reader = CaptureReader::open(path);
        expectSameErrorAtEveryThreadCount(reader, 0, Kind::ReadFailed, "/layers/0/k", "HDF5");
        const CaptureError error = layerError(reader, 0, 2);
        EXPECT_EQ(error.expected(), "readable data for head 1") << error.what();
    }
}

INSTANTIATE_TEST_SUITE_P(Storage, CaptureLayerDefects,
                         ::testing::Values(StorageType::Float32, StorageType::Float16, StorageType::BFloat16),
                         [](const auto& info) { return std::string(storageTypeName(info.param)); });

TEST(CaptureLayerArguments, InvalidLayer) {
    const std::string path = writeSynthetic(makeCapture({}));
    const CaptureReader reader = CaptureReader::open(path);
    for (int layer : {-1, 2}) {
        try {
            LayerTensors into;
            reader.loadLayer(layer, into);
            ADD_FAILURE() << "layer " << layer << " loaded";
        } catch (const CaptureError& error) {
            EXPECT_EQ(error.kind(), Kind::InvalidArgument) << error.what();
        }
        EXPECT_THROW((void)reader.loadLayer(layer), CaptureError);
    }
}

// --- bundled samples -------------------------------------------------------------------------------------

TEST(CaptureLayerSamples, EveryLayerOfTheBundledSamplesMatchesItsHeads) {
    int checked = 0;
    for (const char* name : {"demo-lm-512.h5", "minilm-l6-gettysburg.h5"}) {
        const std::string path = std::string(ATTNSCOPE_SAMPLES_DIR) + "/" + name;
        if (!std::filesystem::exists(path)) {
            continue;
        }
        SCOPED_TRACE(name);
        const CaptureReader reader = CaptureReader::open(path);
        LayerTensors into;
        for (int layer = 0; layer < reader.info().numLayers; ++layer) {
            SCOPED_TRACE("layer " + std::to_string(layer));
            reader.loadLayer(layer, into, 2 + layer % 3);
            expectLayerMatchesHeads(reader, layer, into);
        }
        ++checked;
    }
    if (checked == 0) {
        GTEST_SKIP() << "no bundled samples under " << ATTNSCOPE_SAMPLES_DIR;
    }
}

}  // namespace
}  // namespace attnscope
