// CaptureError: builds the one-line message users see for every capture defect, in the shape
// "<file>: <object>: <what went wrong>: expected <...>, found <...>", and names each error kind.

#include "attnscope/io/capture-error.h"

#include <utility>

namespace attnscope {

namespace {

// Lower-case words for the message; captureErrorKindName gives the stable identifier.
const char* kindDescription(CaptureErrorKind kind) {
    switch (kind) {
    case CaptureErrorKind::FileNotFound: return "cannot open file";
    case CaptureErrorKind::NotHdf5: return "not an HDF5 file";
    case CaptureErrorKind::Truncated: return "truncated or damaged HDF5 file";
    case CaptureErrorKind::NotACapture: return "not an AttnScope capture";
    case CaptureErrorKind::UnsupportedVersion: return "unsupported capture version";
    case CaptureErrorKind::MissingAttribute: return "missing attribute";
    case CaptureErrorKind::BadAttribute: return "bad attribute";
    case CaptureErrorKind::MissingGroup: return "missing group";
    case CaptureErrorKind::MissingDataset: return "missing dataset";
    case CaptureErrorKind::WrongRank: return "wrong rank";
    case CaptureErrorKind::WrongShape: return "wrong shape";
    case CaptureErrorKind::WrongDtype: return "wrong element type";
    case CaptureErrorKind::NonFiniteValue: return "non-finite value";
    case CaptureErrorKind::ReadFailed: return "read failed";
    case CaptureErrorKind::WriteFailed: return "write failed";
    case CaptureErrorKind::InvalidArgument: return "invalid argument";
    }
    return "capture error";
}

std::string composeMessage(CaptureErrorKind kind, const std::string& file, const std::string& object,
                           const std::string& expected, const std::string& found) {
    std::string message = file.empty() ? std::string("<no file>") : file;
    if (!object.empty()) {
        message += ": " + object;
    }
    message += ": ";
    message += kindDescription(kind);
    if (!expected.empty()) {
        message += ": expected " + expected;
    }
    if (!found.empty()) {
        message += expected.empty() ? ": found " : ", found ";
        message += found;
    }
    return message;
}

}  // namespace

const char* captureErrorKindName(CaptureErrorKind kind) {
    switch (kind) {
    case CaptureErrorKind::FileNotFound: return "FileNotFound";
    case CaptureErrorKind::NotHdf5: return "NotHdf5";
    case CaptureErrorKind::Truncated: return "Truncated";
    case CaptureErrorKind::NotACapture: return "NotACapture";
    case CaptureErrorKind::UnsupportedVersion: return "UnsupportedVersion";
    case CaptureErrorKind::MissingAttribute: return "MissingAttribute";
    case CaptureErrorKind::BadAttribute: return "BadAttribute";
    case CaptureErrorKind::MissingGroup: return "MissingGroup";
    case CaptureErrorKind::MissingDataset: return "MissingDataset";
    case CaptureErrorKind::WrongRank: return "WrongRank";
    case CaptureErrorKind::WrongShape: return "WrongShape";
    case CaptureErrorKind::WrongDtype: return "WrongDtype";
    case CaptureErrorKind::NonFiniteValue: return "NonFiniteValue";
    case CaptureErrorKind::ReadFailed: return "ReadFailed";
    case CaptureErrorKind::WriteFailed: return "WriteFailed";
    case CaptureErrorKind::InvalidArgument: return "InvalidArgument";
    }
    return "Unknown";
}

CaptureError::CaptureError(CaptureErrorKind kind, std::string file, std::string object, std::string expected,
                           std::string found)
    : std::runtime_error(composeMessage(kind, file, object, expected, found)),
      m_kind(kind),
      m_file(std::move(file)),
      m_object(std::move(object)),
      m_expected(std::move(expected)),
      m_found(std::move(found)) {}

}  // namespace attnscope
