// Errors from reading or writing a capture file. Each defect class has its own kind and a message
// that names the file, the dataset (or attribute) and what was expected versus found.
#pragma once

#include <stdexcept>
#include <string>

namespace attnscope {

enum class CaptureErrorKind {
    FileNotFound,         // no such file or not readable
    NotHdf5,              // the file is not an HDF5 file at all
    Truncated,            // HDF5 signature present but the file is cut short / unreadable structure
    NotACapture,          // root attribute format is missing or not "attnscope-capture"
    UnsupportedVersion,   // version attribute is not one this reader knows
    MissingAttribute,     // a required attribute is absent
    BadAttribute,         // an attribute has the wrong type or an invalid value
    MissingGroup,         // e.g. /layers/3
    MissingDataset,       // e.g. /layers/3/k
    WrongRank,            // dataset has the wrong number of dimensions
    WrongShape,           // dimensions inconsistent with the root attributes
    WrongDtype,           // element type not one of those the format allows
    NonFiniteValue,       // NaN or Inf in Q, K or V
    ReadFailed,           // HDF5 failed while reading data (corrupt chunk, I/O error)
    WriteFailed,          // writer could not create or write the file
    InvalidArgument       // caller asked for a layer/head that does not exist
};

const char* captureErrorKindName(CaptureErrorKind kind);

class CaptureError : public std::runtime_error {
public:
    CaptureError(CaptureErrorKind kind, std::string file, std::string object, std::string expected,
                 std::string found);

    CaptureErrorKind kind() const { return m_kind; }
    const std::string& file() const { return m_file; }
    const std::string& object() const { return m_object; }  // dataset, group or attribute path
    const std::string& expected() const { return m_expected; }
    const std::string& found() const { return m_found; }

private:
    CaptureErrorKind m_kind;
    std::string m_file;
    std::string m_object;
    std::string m_expected;
    std::string m_found;
};

}  // namespace attnscope
