// One test per defect class of docs/capture-format.md: each starts from a valid capture, damages one
// thing with the raw HDF5 API, and asserts the error kind and that the message names the file, the
// object path and what was expected and found. Also: random byte damage never crashes the reader.

#include <gtest/gtest.h>

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <limits>
#include <random>
#include <vector>

#include "attnscope/io/capture-reader.h"
#include "attnscope/io/capture-writer.h"
#include "capture-test-helpers.h"

namespace attnscope {
namespace {

using Kind = CaptureErrorKind;
using test::CaptureSpec;
using test::makeCapture;
using test::RawEditor;
using test::writeSynthetic;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Checks kind, file, object and that the message carries the expected and found parts plus `words`.
void expectError(const CaptureError& error, Kind kind, const std::string& path, const std::string& object,
                 std::initializer_list<std::string> words = {}) {
    const std::string message = error.what();
    EXPECT_EQ(error.kind(), kind) << "got " << captureErrorKindName(error.kind()) << ": " << message;
    EXPECT_EQ(error.file(), path);
    EXPECT_TRUE(contains(message, path)) << message;
    EXPECT_EQ(error.object(), object) << message;
    EXPECT_TRUE(contains(message, object)) << message;
    EXPECT_FALSE(error.expected().empty()) << message;
    EXPECT_FALSE(error.found().empty()) << message;
    EXPECT_TRUE(contains(message, "expected " + error.expected())) << message;
    EXPECT_TRUE(contains(message, "found " + error.found())) << message;
    for (const std::string& word : words) {
        EXPECT_TRUE(contains(message, word)) << "missing \"" << word << "\" in: " << message;
    }
}

template <typename Action>
CaptureError catchError(Action&& action) {
    try {
        action();
    } catch (const CaptureError& error) {
        return error;
    }
    ADD_FAILURE() << "no CaptureError thrown";
    return CaptureError(Kind::ReadFailed, "", "", "", "");
}

CaptureError openError(const std::string& path) {
    return catchError([&] { (void)CaptureReader::open(path); });
}

// A valid fp32 capture (2 layers, Hq 4, Hkv 2, d = dv = 8, T 16) damaged by `edit`.
std::string damaged(const std::function<void(RawEditor&)>& edit, const CaptureSpec& spec = {},
                    const std::string& suffix = "") {
    const std::string path = writeSynthetic(makeCapture(spec), suffix);
    {
        RawEditor editor(path);
        edit(editor);
    }
    return path;
}

// --- file level --------------------------------------------------------------------------------------

TEST(CaptureDefects, FileNotFound) {
    const std::string path = test::testFilePath("-absent");
    expectError(openError(path), Kind::FileNotFound, path, "", {"no such file"});
}

TEST(CaptureDefects, DirectoryIsNotACaptureFile) {
    const std::string path = test::testFilePath("-dir");
    std::filesystem::create_directories(path);
    expectError(openError(path), Kind::FileNotFound, path, "", {"directory"});
    std::filesystem::remove_all(path);
}

TEST(CaptureDefects, NotHdf5) {
    const std::string path = test::testFilePath();
    test::writeBytes(path, {'q', ',', 'k', ',', 'v', '\n', '1', ',', '2', ',', '3', '\n'});
    expectError(openError(path), Kind::NotHdf5, path, "", {"HDF5 signature", "12 bytes"});
}

TEST(CaptureDefects, EmptyFileIsNotHdf5) {
    const std::string path = test::testFilePath();
    test::writeBytes(path, {});
    expectError(openError(path), Kind::NotHdf5, path, "", {"empty file"});
}

TEST(CaptureDefects, Truncated) {
    CaptureSpec spec;
    spec.seqLen = 128;
    const std::string path = writeSynthetic(makeCapture(spec));
    auto bytes = test::readBytes(path);
    const size_t fullSize = bytes.size();
    bytes.resize(fullSize / 2);
    test::writeBytes(path, bytes);
    // HDF5 compares the size with the end of file recorded in the superblock: the message gives both.
    expectError(openError(path), Kind::Truncated, path, "",
                {std::to_string(fullSize) + " bytes", std::to_string(fullSize / 2) + " bytes"});
}

TEST(CaptureDefects, TruncatedBelowTheSignatureIsNotHdf5) {
    const std::string path = writeSynthetic(makeCapture({}));
    auto bytes = test::readBytes(path);
    bytes.resize(4);
    test::writeBytes(path, bytes);
    expectError(openError(path), Kind::NotHdf5, path, "", {"4 bytes"});
}

TEST(CaptureDefects, TruncatedAfterOpen) {
    CaptureSpec spec;
    spec.seqLen = 128;
    const std::string path = writeSynthetic(makeCapture(spec));
    const CaptureReader reader = CaptureReader::open(path);
    const auto size = std::filesystem::file_size(path);
    std::filesystem::resize_file(path, size - 1000);
    expectError(catchError([&] { (void)reader.loadHead(1, 3); }), Kind::Truncated, path, "/layers/1",
                {std::to_string(size) + " bytes", std::to_string(size - 1000) + " bytes"});
}

// --- root attributes ---------------------------------------------------------------------------------

TEST(CaptureDefects, NotACaptureWithoutFormat) {
    const std::string path = damaged([](RawEditor& e) { e.deleteAttribute("/", "format"); });
    expectError(openError(path), Kind::NotACapture, path, "/format", {"attnscope-capture", "no format attribute"});
}

TEST(CaptureDefects, NotACaptureWithAnotherFormat) {
    const std::string path = damaged([](RawEditor& e) { e.setStringAttribute("/", "format", "nifti-volume"); });
    expectError(openError(path), Kind::NotACapture, path, "/format", {"\"attnscope-capture\"", "\"nifti-volume\""});
}

TEST(CaptureDefects, NotACaptureWithANumericFormat) {
    const std::string path = damaged([](RawEditor& e) { e.setIntegerAttribute("/", "format", 1); });
    expectError(openError(path), Kind::NotACapture, path, "/format", {"64-bit signed integer"});
}

TEST(CaptureDefects, UnsupportedVersion) {
    const std::string path = damaged([](RawEditor& e) { e.setIntegerAttribute("/", "version", 2); });
    expectError(openError(path), Kind::UnsupportedVersion, path, "/version", {"version 1", "version 2"});
}

class MissingRootAttribute : public ::testing::TestWithParam<const char*> {};

TEST_P(MissingRootAttribute, IsReportedByName) {
    const std::string name = GetParam();
    const std::string path = damaged([&](RawEditor& e) { e.deleteAttribute("/", name); }, {}, "-" + name);
    expectError(openError(path), Kind::MissingAttribute, path, "/" + name, {"no such attribute"});
}

INSTANTIATE_TEST_SUITE_P(CaptureDefects, MissingRootAttribute,
                         ::testing::Values("version", "model", "model_type", "causal", "rope_applied", "softmax_scale",
                                           "num_layers", "num_q_heads", "num_kv_heads", "head_dim", "seq_len",
                                           "dtype", "source", "created"));

struct BadAttributeCase {
    const char* label;
    const char* object;  // where the error points
    std::function<void(RawEditor&)> edit;
    std::vector<std::string> words;  // expected / found parts of the message
};

class BadAttribute : public ::testing::TestWithParam<BadAttributeCase> {};

TEST_P(BadAttribute, IsReportedWithExpectedAndFound) {
    const BadAttributeCase& c = GetParam();
    const std::string path = damaged(c.edit, {}, std::string("-") + c.label);
    const CaptureError error = openError(path);
    expectError(error, Kind::BadAttribute, path, c.object);
    for (const std::string& word : c.words) {
        EXPECT_TRUE(contains(error.what(), word)) << "missing \"" << word << "\" in: " << error.what();
    }
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

INSTANTIATE_TEST_SUITE_P(
    CaptureDefects, BadAttribute,
    ::testing::Values(
        BadAttributeCase{"float_dimension", "/num_layers",
                         [](RawEditor& e) { e.setFloatAttribute("/", "num_layers", 2.0); }, {"integer", "64-bit float"}},
        BadAttributeCase{"zero_head_dim", "/head_dim", [](RawEditor& e) { e.setIntegerAttribute("/", "head_dim", 0); },
                         {"positive", "found 0"}},
        BadAttributeCase{"negative_heads", "/num_q_heads",
                         [](RawEditor& e) { e.setIntegerAttribute("/", "num_q_heads", -4); }, {"positive", "-4"}},
        BadAttributeCase{"zero_seq_len", "/seq_len", [](RawEditor& e) { e.setIntegerAttribute("/", "seq_len", 0); },
                         {"positive"}},
        BadAttributeCase{"zero_value_dim", "/value_dim",
                         [](RawEditor& e) { e.setIntegerAttribute("/", "value_dim", 0); }, {"positive"}},
        BadAttributeCase{"kv_not_divisor", "/num_kv_heads",
                         [](RawEditor& e) { e.setIntegerAttribute("/", "num_kv_heads", 3); },
                         {"divisor of num_q_heads = 4", "found 3"}},
        BadAttributeCase{"nan_scale", "/softmax_scale",
                         [](RawEditor& e) { e.setFloatAttribute("/", "softmax_scale", kNaN); }, {"positive finite", "nan"}},
        BadAttributeCase{"inf_scale", "/softmax_scale",
                         [](RawEditor& e) { e.setFloatAttribute("/", "softmax_scale", kInf); }, {"positive finite", "inf"}},
        BadAttributeCase{"negative_scale", "/softmax_scale",
                         [](RawEditor& e) { e.setFloatAttribute("/", "softmax_scale", -0.125); }, {"-0.125"}},
        BadAttributeCase{"string_scale", "/softmax_scale",
                         [](RawEditor& e) { e.setStringAttribute("/", "softmax_scale", "0.125"); },
                         {"a float", "variable-length string"}},
        BadAttributeCase{"negative_softcap", "/softcap",
                         [](RawEditor& e) { e.setFloatAttribute("/", "softcap", -30.0); }, {">= 0"}},
        BadAttributeCase{"unknown_dtype", "/dtype", [](RawEditor& e) { e.setStringAttribute("/", "dtype", "float8"); },
                         {"\"bfloat16\"", "\"float8\""}},
        BadAttributeCase{"causal_two", "/causal", [](RawEditor& e) { e.setIntegerAttribute("/", "causal", 2); },
                         {"0 or 1", "found 2"}},
        BadAttributeCase{"numeric_model", "/model", [](RawEditor& e) { e.setIntegerAttribute("/", "model", 7); },
                         {"a string", "integer"}},
        BadAttributeCase{"negative_window", "/layers/1/sliding_window",
                         [](RawEditor& e) { e.setIntegerAttribute("/layers/1", "sliding_window", -1); },
                         {">= 0", "-1"}}),
    [](const ::testing::TestParamInfo<BadAttributeCase>& info) { return std::string(info.param.label); });

// --- groups and datasets -----------------------------------------------------------------------------

TEST(CaptureDefects, MissingTokensGroup) {
    const std::string path = damaged([](RawEditor& e) { e.deleteLink("/tokens"); });
    expectError(openError(path), Kind::MissingGroup, path, "/tokens", {"a group", "nothing at that path"});
}

TEST(CaptureDefects, MissingLayerGroup) {
    const std::string path = damaged([](RawEditor& e) { e.deleteLink("/layers/1"); });
    expectError(openError(path), Kind::MissingGroup, path, "/layers/1", {"a group"});
}

TEST(CaptureDefects, LayerThatIsADatasetIsAMissingGroup) {
    const std::string path = damaged([](RawEditor& e) {
        e.deleteLink("/layers/0");
        e.replaceDataset("/layers/0", H5T_IEEE_F32LE, {4});
    });
    expectError(openError(path), Kind::MissingGroup, path, "/layers/0", {"found a dataset"});
}

TEST(CaptureDefects, MissingDataset) {
    const std::string path = damaged([](RawEditor& e) { e.deleteLink("/layers/1/k"); });
    expectError(openError(path), Kind::MissingDataset, path, "/layers/1/k", {"a dataset", "nothing at that path"});
}

TEST(CaptureDefects, MissingTokenText) {
    const std::string path = damaged([](RawEditor& e) { e.deleteLink("/tokens/text"); });
    expectError(openError(path), Kind::MissingDataset, path, "/tokens/text");
}

TEST(CaptureDefects, WrongRank) {
    const std::string path = damaged([](RawEditor& e) { e.replaceDataset("/layers/0/q", H5T_IEEE_F32LE, {4, 128}); });
    expectError(openError(path), Kind::WrongRank, path, "/layers/0/q",
                {"3 dimensions [query heads, tokens, head dim]", "2 dimensions [4, 128]"});
}

TEST(CaptureDefects, WrongShapeTokenCount) {
    const std::string path = damaged([](RawEditor& e) { e.replaceDataset("/layers/1/k", H5T_IEEE_F32LE, {2, 15, 8}); });
    expectError(openError(path), Kind::WrongShape, path, "/layers/1/k",
                {"dimension 1 (tokens) = 16 from seq_len", "dimension 1 = 15", "[2, 15, 8]"});
}

TEST(CaptureDefects, WrongShapeHeadCount) {
    const std::string path = damaged([](RawEditor& e) { e.replaceDataset("/layers/0/q", H5T_IEEE_F32LE, {6, 16, 8}); });
    expectError(openError(path), Kind::WrongShape, path, "/layers/0/q",
                {"dimension 0 (query heads) = 4 from num_q_heads", "dimension 0 = 6"});
}

TEST(CaptureDefects, WrongShapeValueDim) {
    const std::string path = damaged([](RawEditor& e) { e.replaceDataset("/layers/1/v", H5T_IEEE_F32LE, {2, 16, 7}); });
    expectError(openError(path), Kind::WrongShape, path, "/layers/1/v",
                {"dimension 2 (value dim) = 8 from value_dim", "dimension 2 = 7"});
}

TEST(CaptureDefects, WrongShapeTokenIds) {
    const std::string path = damaged([](RawEditor& e) { e.replaceDataset("/tokens/ids", H5T_STD_I64LE, {15}); });
    expectError(openError(path), Kind::WrongShape, path, "/tokens/ids", {"= 16 from seq_len", "dimension 0 = 15"});
}

TEST(CaptureDefects, WrongDtypeIntegerTensor) {
    const std::string path = damaged([](RawEditor& e) { e.replaceDataset("/layers/0/v", H5T_STD_I32LE, {2, 16, 8}); });
    expectError(openError(path), Kind::WrongDtype, path, "/layers/0/v",
                {"32-bit float (root dtype is float32)", "32-bit signed integer"});
}

TEST(CaptureDefects, WrongDtypeFloat16WhenDtypeSaysFloat32) {
    const std::string path = damaged([](RawEditor& e) {
        hid_t half = H5Tcopy(H5T_IEEE_F32LE);
        H5Tset_fields(half, 15, 10, 5, 0, 10);
        H5Tset_precision(half, 16);
        H5Tset_size(half, 2);
        H5Tset_ebias(half, 15);
        e.replaceDataset("/layers/1/q", half, {4, 16, 8});
        H5Tclose(half);
    });
    expectError(openError(path), Kind::WrongDtype, path, "/layers/1/q", {"float32", "16-bit float"});
}

TEST(CaptureDefects, WrongDtypeFloat32WhenDtypeSaysFloat16) {
    CaptureSpec spec;
    spec.storage = StorageType::Float16;
    const std::string path =
        damaged([](RawEditor& e) { e.replaceDataset("/layers/0/k", H5T_IEEE_F32LE, {2, 16, 8}); }, spec);
    expectError(openError(path), Kind::WrongDtype, path, "/layers/0/k", {"16-bit IEEE half float", "32-bit float"});
}

TEST(CaptureDefects, WrongDtypeBfloat16WithoutEncoding) {
    CaptureSpec spec;
    spec.storage = StorageType::BFloat16;
    const std::string path = damaged([](RawEditor& e) { e.deleteAttribute("/layers/1/v", "encoding"); }, spec);
    expectError(openError(path), Kind::WrongDtype, path, "/layers/1/v",
                {"encoding = \"bfloat16\"", "16-bit unsigned integer without an encoding attribute"});
}

TEST(CaptureDefects, WrongDtypeBfloat16WithAnotherEncoding) {
    CaptureSpec spec;
    spec.storage = StorageType::BFloat16;
    const std::string path = damaged(
        [](RawEditor& e) { e.setStringAttribute("/layers/0/q", "encoding", "ieee754_binary16"); }, spec);
    expectError(openError(path), Kind::WrongDtype, path, "/layers/0/q", {"encoding = \"ieee754_binary16\""});
}

TEST(CaptureDefects, WrongDtypeTokenText) {
    const std::string path = damaged([](RawEditor& e) { e.replaceDataset("/tokens/text", H5T_STD_I32LE, {16}); });
    expectError(openError(path), Kind::WrongDtype, path, "/tokens/text", {"a string type", "32-bit signed integer"});
}

TEST(CaptureDefects, WrongDtypeTokenIds) {
    const std::string path = damaged([](RawEditor& e) { e.replaceDataset("/tokens/ids", H5T_IEEE_F64LE, {16}); });
    expectError(openError(path), Kind::WrongDtype, path, "/tokens/ids", {"an integer type", "64-bit float"});
}

// --- data ----------------------------------------------------------------------------------------------

TEST(CaptureDefects, NonFiniteValueInQuery) {
    const std::string path = damaged([](RawEditor& e) {
        e.writeElement("/layers/1/q", {1, 3, 2}, std::numeric_limits<float>::quiet_NaN());
    });
    const CaptureReader reader = CaptureReader::open(path);  // metadata only: opens fine
    expectError(catchError([&] { (void)reader.loadHead(1, 1); }), Kind::NonFiniteValue, path, "/layers/1/q",
                {"finite values", "NaN at head 1, token 3, channel 2"});
    EXPECT_NO_THROW((void)reader.loadHead(1, 0));  // other heads are fine
    EXPECT_NO_THROW((void)reader.loadHead(0, 1));
}

TEST(CaptureDefects, NonFiniteValueInSharedKvHeadOfFloat16File) {
    CaptureSpec spec;
    spec.storage = StorageType::Float16;
    const std::string path = damaged([](RawEditor& e) {
        e.writeElement("/layers/0/v", {1, 5, 0}, -std::numeric_limits<float>::infinity());
    }, spec);
    const CaptureReader reader = CaptureReader::open(path);
    // Query heads 2 and 3 share kv head 1.
    for (int h : {2, 3}) {
        expectError(catchError([&] { (void)reader.loadHead(0, h); }), Kind::NonFiniteValue, path, "/layers/0/v",
                    {"-Inf at head 1, token 5, channel 0"});
    }
    EXPECT_NO_THROW((void)reader.loadHead(0, 1));
}

TEST(CaptureDefects, ReadFailedOnCorruptChunk) {
    const std::string path = writeSynthetic(makeCapture({}));
    {
        hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t dataset = H5Dopen2(file, "/layers/1/k", H5P_DEFAULT);
        hid_t space = H5Dget_space(dataset);
        hsize_t offset[3] = {};
        unsigned mask = 0;
        haddr_t address = 0;
        hsize_t size = 0;
        ASSERT_GE(H5Dget_chunk_info(dataset, space, 0, offset, &mask, &address, &size), 0);
        H5Sclose(space);
        H5Dclose(dataset);
        H5Fclose(file);
        auto bytes = test::readBytes(path);
        for (hsize_t i = 0; i < size; ++i) {
            bytes[address + i] = 0xFF;  // not a deflate stream
        }
        test::writeBytes(path, bytes);
    }
    const CaptureReader reader = CaptureReader::open(path);
    expectError(catchError([&] { (void)reader.loadHead(1, 0); }), Kind::ReadFailed, path, "/layers/1/k",
                {"readable data for head 0", "HDF5"});
}

// A filter this HDF5 cannot decode (h5py's lzf, say) is reported at open, not at the first read. The
// test registers a pass-through filter to write the file, then unregisters it.
size_t passThroughFilter(unsigned, size_t, const unsigned[], size_t bytes, size_t*, void**) { return bytes; }

TEST(CaptureDefects, ReadFailedOnUnavailableFilter) {
    const H5Z_filter_t id = 300;  // 256-511: reserved for testing
    const H5Z_class2_t filterClass = {H5Z_CLASS_T_VERS, id, 1, 1, "attnscope-test-filter", nullptr, nullptr,
                                      passThroughFilter};
    ASSERT_GE(H5Zregister(&filterClass), 0);
    const std::string path = damaged([&](RawEditor& e) {
        e.deleteLink("/layers/0/q");
        const hsize_t dims[3] = {4, 16, 8};
        hid_t space = H5Screate_simple(3, dims, nullptr);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 3, std::vector<hsize_t>{1, 16, 8}.data());
        H5Pset_filter(dcpl, id, H5Z_FLAG_MANDATORY, 0, nullptr);
        hid_t dataset = H5Dcreate2(e.file(), "/layers/0/q", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        ASSERT_GE(dataset, 0);
        std::vector<float> zeros(4 * 16 * 8, 0.0f);
        H5Dwrite(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data());
        H5Dclose(dataset);
        H5Pclose(dcpl);
        H5Sclose(space);
    });
    ASSERT_GE(H5Zunregister(id), 0);
    expectError(openError(path), Kind::ReadFailed, path, "/layers/0/q", {"filter 300", "not available"});
}

// --- references ----------------------------------------------------------------------------------------

std::string withReference(const std::function<void(RawEditor&)>& edit) {
    auto capture = makeCapture({});
    ReferenceValues ref;
    ref.info = {"L1_H2", 1, 2, "test"};
    ref.rows = {1, 4};
    ref.probs.assign(2 * 16, 0.0625f);
    ref.lse = {1.0f, 2.0f};
    capture.references.push_back(ref);
    const std::string path = writeSynthetic(capture);
    RawEditor editor(path);
    edit(editor);
    return path;
}

TEST(CaptureDefects, ReferenceWithoutHeadAttribute) {
    const std::string path = withReference([](RawEditor& e) { e.deleteAttribute("/reference/L1_H2", "head"); });
    expectError(openError(path), Kind::MissingAttribute, path, "/reference/L1_H2/head");
}

TEST(CaptureDefects, ReferenceForALayerThatDoesNotExist) {
    const std::string path = withReference([](RawEditor& e) { e.setIntegerAttribute("/reference/L1_H2", "layer", 9); });
    expectError(openError(path), Kind::BadAttribute, path, "/reference/L1_H2/layer", {"[0, 2)", "found 9"});
}

TEST(CaptureDefects, ReferenceProbsWithWrongShape) {
    const std::string path =
        withReference([](RawEditor& e) { e.replaceDataset("/reference/L1_H2/probs", H5T_IEEE_F32LE, {2, 15}); });
    expectError(openError(path), Kind::WrongShape, path, "/reference/L1_H2/probs", {"dimension 1 (tokens)"});
}

TEST(CaptureDefects, ReferenceRowsOutOfRange) {
    const std::string path =
        withReference([](RawEditor& e) { e.replaceDataset("/reference/L1_H2/rows", H5T_STD_I32LE, {2}, 16.0); });
    const CaptureReader reader = CaptureReader::open(path);
    expectError(catchError([&] { (void)reader.loadReference("L1_H2"); }), Kind::WrongShape, path,
                "/reference/L1_H2/rows", {"[0, 16)", "row 16 at position 0"});
}

// --- arguments -----------------------------------------------------------------------------------------

TEST(CaptureDefects, InvalidLayerOrHeadArgument) {
    const std::string path = writeSynthetic(makeCapture({}));
    const CaptureReader reader = CaptureReader::open(path);
    expectError(catchError([&] { (void)reader.loadHead(2, 0); }), Kind::InvalidArgument, path, "/layers/2",
                {"[0, 2)", "layer 2"});
    expectError(catchError([&] { (void)reader.loadHead(-1, 0); }), Kind::InvalidArgument, path, "/layers/-1");
    expectError(catchError([&] { (void)reader.loadHead(1, 4); }), Kind::InvalidArgument, path, "/layers/1/q",
                {"[0, 4)", "head 4"});
    expectError(catchError([&] { (void)reader.loadReference("L0_H0"); }), Kind::InvalidArgument, path,
                "/reference/L0_H0", {"none in this file"});
    expectError(catchError([&] { (void)reader.info().attentionConfig(5); }), Kind::InvalidArgument, path,
                "/layers/5");
}

TEST(CaptureDefects, WriteFailed) {
    auto capture = makeCapture({});
    const std::string path = test::testFilePath() + ".no-such-dir/out.h5";
    expectError(catchError([&] { writeCapture(path, capture.info, capture.layers); }), Kind::WriteFailed, path, "",
                {"HDF5"});
}

TEST(CaptureDefects, KindNamesAreDistinct) {
    std::vector<std::string> names;
    for (int k = 0; k <= static_cast<int>(Kind::InvalidArgument); ++k) {
        names.emplace_back(captureErrorKindName(static_cast<Kind>(k)));
    }
    EXPECT_EQ(names.front(), "FileNotFound");
    EXPECT_EQ(names.back(), "InvalidArgument");
    std::sort(names.begin(), names.end());
    EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
}

// --- robustness ------------------------------------------------------------------------------------------

// Damages one byte at a time across the whole file and reads everything; exits 0 when every outcome
// was a clean load or a CaptureError naming the file. Runs in a child process: HDF5 1.10 itself leaks
// a few internal blocks on some damaged object headers (not ours to free), which must not fail the
// leak-checked test binary at exit, and a crash must fail this test rather than end the whole run.
void readDamagedCopies(const std::vector<unsigned char>& pristine, const std::string& path) {
    std::mt19937 rng(42);
    int failures = 0;
    for (int trial = 0; trial < 300; ++trial) {
        auto bytes = pristine;
        const size_t at = rng() % bytes.size();
        bytes[at] = static_cast<unsigned char>(bytes[at] ^ (1u + rng() % 255u));
        test::writeBytes(path, bytes);
        try {
            const CaptureReader reader = CaptureReader::open(path);
            for (int l = 0; l < reader.info().numLayers; ++l) {
                for (int h = 0; h < reader.info().numQueryHeads; ++h) {
                    (void)reader.loadHead(l, h);
                }
            }
        } catch (const CaptureError& error) {
            ++failures;
            if (!contains(error.what(), path)) {
                std::fprintf(stderr, "byte %zu: message without the path: %s\n", at, error.what());
                std::_Exit(3);
            }
        } catch (const std::exception& other) {
            std::fprintf(stderr, "byte %zu: not a CaptureError: %s\n", at, other.what());
            std::_Exit(2);
        }
        if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) {
            std::fprintf(stderr, "byte %zu: HDF5 objects left open\n", at);
            std::_Exit(4);
        }
    }
    std::fprintf(stderr, "%d of 300 damaged copies were rejected\n", failures);
    std::_Exit(failures > 0 ? 0 : 5);
}

TEST(CaptureDamageDeathTest, RandomByteDamageNeverCrashes) {
    const std::string pristinePath = writeSynthetic(makeCapture({}), "-pristine");
    const auto pristine = test::readBytes(pristinePath);
    const std::string path = test::testFilePath();
    EXPECT_EXIT(readDamagedCopies(pristine, path), ::testing::ExitedWithCode(0), "damaged copies were rejected");
}

}  // namespace
}  // namespace attnscope
