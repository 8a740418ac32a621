// Small RAII owners for HDF5 identifiers (hid_t) plus the session guard every public capture I/O entry
// point takes: it serializes our HDF5 calls and silences HDF5's own error-stack printing, so users see
// only CaptureError messages. Also helpers that turn HDF5 types and error stacks into readable text.
// Internal to attnscope_io; nothing outside core/src/io includes HDF5.
#pragma once

#include <hdf5.h>

#include <mutex>
#include <string>
#include <utility>

namespace attnscope::h5 {

// Owns one hid_t and releases it with `Close` (H5Fclose, H5Dclose, ...). Move-only.
template <herr_t (*Close)(hid_t)>
class Handle {
public:
    Handle() = default;
    explicit Handle(hid_t id) : m_id(id) {}
    ~Handle() { reset(); }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    Handle(Handle&& other) noexcept : m_id(std::exchange(other.m_id, H5I_INVALID_HID)) {}
    Handle& operator=(Handle&& other) noexcept {
        if (this != &other) {
            reset();
            m_id = std::exchange(other.m_id, H5I_INVALID_HID);
        }
        return *this;
    }

    hid_t get() const { return m_id; }
    bool valid() const { return m_id >= 0; }
    explicit operator bool() const { return valid(); }
    hid_t release() { return std::exchange(m_id, H5I_INVALID_HID); }
    void reset(hid_t id = H5I_INVALID_HID) {
        if (m_id >= 0) {
            Close(m_id);
        }
        m_id = id;
    }

private:
    hid_t m_id = H5I_INVALID_HID;
};

using File = Handle<H5Fclose>;
using Group = Handle<H5Gclose>;
using Dataset = Handle<H5Dclose>;
using Dataspace = Handle<H5Sclose>;
using Datatype = Handle<H5Tclose>;
using Attribute = Handle<H5Aclose>;
using PropertyList = Handle<H5Pclose>;

// Taken by every public entry point of the reader and writer (and the reader's destructor). The mutex
// makes the library safe to call from several threads even with a non-threadsafe HDF5 build, where the
// error stack and its auto-print setting are global; it is recursive because entry points may nest
// (a failed open destroys a half-built reader). The previous auto-print setting is restored on exit.
class Session {
public:
    Session();
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

private:
    std::unique_lock<std::recursive_mutex> m_lock;
    H5E_auto2_t m_oldFunc = nullptr;
    void* m_oldData = nullptr;
    bool m_restore = false;
};

// The innermost descriptions on the current HDF5 error stack joined with "; " (empty when the stack is
// empty). Used to add HDF5's own reason ("truncated file: eof = ...") to our messages.
std::string errorStackText();
// Clears the current thread's error stack so a later errorStackText() reports only new failures.
void clearErrorStack();

// "32-bit signed integer", "16-bit float", "variable-length string", "compound", ... for messages.
std::string describeType(hid_t type);
// "[4, 128, 64]" or "scalar" for a dataspace.
std::string describeSpace(hid_t space);

// The IEEE binary16 type of capture files (sign 15, exponent 10..14 with bias 15, mantissa 0..9, 2 bytes),
// derived from `base` (H5T_IEEE_F32LE for files, H5T_NATIVE_FLOAT for memory) to inherit its byte order.
Datatype makeHalfType(hid_t base);

// True when `name` is a link directly under `loc` (no intermediate path components).
bool linkExists(hid_t loc, const std::string& name);
// H5O_TYPE_GROUP, H5O_TYPE_DATASET, ... of the object at `name` under `loc`, H5O_TYPE_UNKNOWN on failure.
H5O_type_t objectType(hid_t loc, const std::string& name);

}  // namespace attnscope::h5
