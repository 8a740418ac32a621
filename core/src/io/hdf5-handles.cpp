// HDF5 session guard (lock + silenced error printing) and the helpers that describe HDF5 types, spaces
// and error stacks in words for CaptureError messages.

#include "io/hdf5-handles.h"

#include <vector>

namespace attnscope::h5 {

namespace {

std::recursive_mutex& hdf5Mutex() {
    static std::recursive_mutex mutex;
    return mutex;
}

herr_t collectErrorDescription(unsigned /*n*/, const H5E_error2_t* error, void* clientData) {
    auto* lines = static_cast<std::vector<std::string>*>(clientData);
    if (error->desc != nullptr && error->desc[0] != '\0') {
        lines->emplace_back(error->desc);
    }
    return 0;
}

}  // namespace

Session::Session() : m_lock(hdf5Mutex()) {
    if (H5Eget_auto2(H5E_DEFAULT, &m_oldFunc, &m_oldData) >= 0) {
        m_restore = true;
    }
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

Session::~Session() {
    H5Eclear2(H5E_DEFAULT);
    if (m_restore) {
        H5Eset_auto2(H5E_DEFAULT, m_oldFunc, m_oldData);
    }
}

std::string errorStackText() {
    std::vector<std::string> lines;
    // Innermost first: the deepest frame usually holds the concrete reason.
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collectErrorDescription, &lines);
    std::string text;
    for (size_t i = 0; i < lines.size() && i < 3; ++i) {
        if (!text.empty()) {
            text += "; ";
        }
        text += lines[i];
    }
    return text;
}

void clearErrorStack() { H5Eclear2(H5E_DEFAULT); }

std::string describeType(hid_t type) {
    const H5T_class_t cls = H5Tget_class(type);
    const size_t bits = H5Tget_size(type) * 8;
    switch (cls) {
    case H5T_INTEGER:
        return std::to_string(bits) + "-bit " + (H5Tget_sign(type) == H5T_SGN_NONE ? "unsigned" : "signed") +
               " integer";
    case H5T_FLOAT:
        return std::to_string(bits) + "-bit float";
    case H5T_STRING:
        if (H5Tis_variable_str(type) > 0) {
            return "variable-length string";
        }
        return "fixed-length string of " + std::to_string(bits / 8) + " bytes";
    case H5T_BITFIELD:
        return std::to_string(bits) + "-bit bitfield";
    case H5T_OPAQUE:
        return "opaque type";
    case H5T_COMPOUND:
        return "compound type";
    case H5T_REFERENCE:
        return "reference type";
    case H5T_ENUM:
        return std::to_string(bits) + "-bit enum";
    case H5T_VLEN:
        return "variable-length sequence";
    case H5T_ARRAY:
        return "array type";
    default:
        return "unknown type";
    }
}

std::string describeSpace(hid_t space) {
    const int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0) {
        return "unreadable dataspace";
    }
    if (H5Sget_simple_extent_type(space) == H5S_NULL) {
        return "empty (null) dataspace";
    }
    if (rank == 0) {
        return "scalar";
    }
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    std::string text = "[";
    for (size_t i = 0; i < dims.size(); ++i) {
        text += (i == 0 ? "" : ", ") + std::to_string(dims[i]);
    }
    return text + "]";
}

Datatype makeHalfType(hid_t base) {
    Datatype type(H5Tcopy(base));
    // Order matters: shrink the fields before the size and precision, or HDF5 rejects the new size.
    H5Tset_fields(type.get(), 15, 10, 5, 0, 10);
    H5Tset_precision(type.get(), 16);
    H5Tset_size(type.get(), 2);
    H5Tset_ebias(type.get(), 15);
    return type;
}

bool linkExists(hid_t loc, const std::string& name) { return H5Lexists(loc, name.c_str(), H5P_DEFAULT) > 0; }

H5O_type_t objectType(hid_t loc, const std::string& name) {
    H5O_info_t info{};
    if (H5Oget_info_by_name2(loc, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
        return H5O_TYPE_UNKNOWN;
    }
    return info.type;
}

}  // namespace attnscope::h5
