// Shared helpers of the capture I/O tests: deterministic synthetic captures, per-test file paths, and a
// raw HDF5 editor that damages a valid capture in exactly one place (remove or alter one attribute,
// group or dataset) so each defect test starts from a file that is otherwise correct.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/io/capture-info.h"
#include "attnscope/io/capture-writer.h"

namespace attnscope::test {

// A unique path under ATTNSCOPE_TEST_DATA_DIR/io named after the running test (plus `suffix`); any
// stale file of that name is removed.
std::string testFilePath(const std::string& suffix = "");

struct CaptureSpec {
    int numLayers = 2;
    int numQueryHeads = 4;
    int numKvHeads = 2;
    int headDim = 8;
    int valueDim = 8;
    int seqLen = 16;
    StorageType storage = StorageType::Float32;
};

struct SyntheticCapture {
    CaptureInfo info;
    std::vector<LayerTensors> layers;
    std::vector<ReferenceValues> references;
};

// Values are a deterministic function of (layer, tensor, head, token, channel) in [-4, 4), so a head
// mapped to the wrong slab is caught. Tokens include non-ASCII UTF-8 text and special flags.
SyntheticCapture makeCapture(const CaptureSpec& spec);
// makeCapture + writeCapture; returns the path.
std::string writeSynthetic(const SyntheticCapture& capture, const std::string& suffix = "",
                           const CaptureWriteOptions& options = {});

// One slab [T, width] of head `head` from a [heads, T, width] array.
std::vector<float> slab(const std::vector<float>& all, int head, int seqLen, int width);

std::vector<unsigned char> readBytes(const std::string& path);
void writeBytes(const std::string& path, const std::vector<unsigned char>& bytes);

// Opens an existing capture read-write with the raw C API and edits it. Every call asserts success via
// gtest (ADD_FAILURE) so a broken helper cannot masquerade as a reader result.
class RawEditor {
public:
    explicit RawEditor(const std::string& path);
    ~RawEditor();
    RawEditor(const RawEditor&) = delete;
    RawEditor& operator=(const RawEditor&) = delete;

    hid_t file() const { return m_file; }

    void deleteAttribute(const std::string& object, const std::string& name);
    void setIntegerAttribute(const std::string& object, const std::string& name, long long value,
                             hid_t type = H5T_STD_I64LE);
    void setFloatAttribute(const std::string& object, const std::string& name, double value,
                           hid_t type = H5T_IEEE_F64LE);
    // Fixed-length (numpy bytes style, ASCII, null-padded) when `fixedLength`, else variable-length UTF-8.
    void setStringAttribute(const std::string& object, const std::string& name, const std::string& value,
                            bool fixedLength = false);
    // h5py's encoding of a Python bool: an enum {FALSE=0, TRUE=1} over int8.
    void setBoolAttribute(const std::string& object, const std::string& name, bool value);
    void deleteLink(const std::string& path);
    // Replaces a dataset by a new one of `type` and `dims` filled with `fill` (converted from double).
    void replaceDataset(const std::string& path, hid_t type, const std::vector<hsize_t>& dims, double fill = 0.0);
    // Writes one element of a float dataset [h, t, c] through NATIVE_FLOAT conversion.
    void writeElement(const std::string& path, const std::vector<hsize_t>& index, float value);

private:
    hid_t m_file = H5I_INVALID_HID;
};

}  // namespace attnscope::test
