// CaptureReader: opens a capture read-only, validates every attribute, group, dataset shape and element
// type from metadata at open (reading only the small token datasets), then loads one (layer, query head)
// at a time with hyperslab reads of [h, :, :], or a whole layer with one such read per head while
// helper threads widen and check the heads already read. Every defect becomes a CaptureError of its
// own kind.

#include "attnscope/io/capture-reader.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <new>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <vector>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attnscope/parallel-for.h"

#include "io/half-float.h"
#include "io/hdf5-handles.h"

namespace attnscope {

namespace {

constexpr const char* kFormatName = "attnscope-capture";
constexpr long long kFormatVersion = 1;

using Kind = CaptureErrorKind;

[[noreturn]] void fail(Kind kind, const std::string& file, const std::string& object, const std::string& expected,
                       const std::string& found) {
    throw CaptureError(kind, file, object, expected, found);
}

std::string childPath(const std::string& parent, const std::string& name) {
    return parent == "/" ? "/" + name : parent + "/" + name;
}

std::string hdf5Reason() {
    std::string text = h5::errorStackText();
    return text.empty() ? std::string("HDF5 reported no reason") : "HDF5: " + text;
}

// ---------------------------------------------------------------------------------------------------
// Attributes

// Checks that an attribute holds exactly one value (scalar or a one-element array) and returns its type.
h5::Datatype singleValueType(const std::string& file, const std::string& object, hid_t attr) {
    h5::Dataspace space(H5Aget_space(attr));
    h5::Datatype type(H5Aget_type(attr));
    if (!space || !type) {
        fail(Kind::ReadFailed, file, object, "a readable attribute", hdf5Reason());
    }
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    if (H5Sget_simple_extent_type(space.get()) == H5S_NULL || count != 1) {
        fail(Kind::BadAttribute, file, object, "a single value", h5::describeSpace(space.get()) + " value");
    }
    return type;
}

std::optional<h5::Attribute> openAttribute(hid_t obj, const char* name) {
    if (H5Aexists(obj, name) <= 0) {
        return std::nullopt;
    }
    h5::Attribute attr(H5Aopen(obj, name, H5P_DEFAULT));
    if (!attr) {
        return std::nullopt;
    }
    return attr;
}

// Variable-length string memory for dataset reads. HDF5 decodes the strings into its own conversion
// buffer and, when the read fails half-way (a damaged global heap), never frees the ones it already
// decoded; routing every allocation through this tracker lets us free them all, success or failure.
class VlenAllocations {
public:
    VlenAllocations() = default;
    VlenAllocations(const VlenAllocations&) = delete;
    VlenAllocations& operator=(const VlenAllocations&) = delete;
    ~VlenAllocations() {
        for (void* block : m_blocks) {
            std::free(block);
        }
    }

    // A transfer property list whose vlen allocator is this tracker.
    h5::PropertyList transferList() {
        h5::PropertyList dxpl(H5Pcreate(H5P_DATASET_XFER));
        if (dxpl) {
            H5Pset_vlen_mem_manager(dxpl.get(), &VlenAllocations::allocate, this, &VlenAllocations::release, this);
        }
        return dxpl;
    }

private:
    static void* allocate(size_t size, void* self) {
        void* block = std::malloc(size == 0 ? 1 : size);
        if (block != nullptr) {
            try {
                static_cast<VlenAllocations*>(self)->m_blocks.insert(block);
            } catch (...) {
                std::free(block);
                return nullptr;
            }
        }
        return block;
    }
    static void release(void* block, void* self) {
        static_cast<VlenAllocations*>(self)->m_blocks.erase(block);
        std::free(block);
    }

    std::unordered_set<void*> m_blocks;
};

// Reads `count` strings of a string-typed attribute or dataset, variable- or fixed-length, any cset.
std::vector<std::string> readStrings(const std::string& file, const std::string& object, hid_t obj, bool isAttribute,
                                     hid_t fileType, hid_t space, size_t count) {
    std::vector<std::string> result(count);
    if (count == 0) {
        return result;
    }
    const H5T_cset_t cset = H5Tget_cset(fileType);
    if (H5Tis_variable_str(fileType) > 0) {
        h5::Datatype memType(H5Tcopy(H5T_C_S1));
        H5Tset_size(memType.get(), H5T_VARIABLE);
        H5Tset_cset(memType.get(), cset);
        std::vector<char*> pointers(count, nullptr);
        if (isAttribute) {
            // Attribute reads take no transfer list; a single string is all there is to lose.
            if (H5Aread(obj, memType.get(), pointers.data()) < 0) {
                fail(Kind::ReadFailed, file, object, "a readable string", hdf5Reason());
            }
            if (pointers[0] != nullptr) {
                result[0] = pointers[0];
            }
            H5Dvlen_reclaim(memType.get(), space, H5P_DEFAULT, pointers.data());
            return result;
        }
        VlenAllocations allocations;  // frees every decoded string when it goes out of scope
        h5::PropertyList dxpl = allocations.transferList();
        if (H5Dread(obj, memType.get(), H5S_ALL, H5S_ALL, dxpl ? dxpl.get() : H5P_DEFAULT, pointers.data()) < 0) {
            fail(Kind::ReadFailed, file, object, "readable strings", hdf5Reason());
        }
        for (size_t i = 0; i < count; ++i) {
            if (pointers[i] != nullptr) {
                result[i] = pointers[i];
            }
        }
        return result;
    }
    // Fixed length: read the raw bytes with the file's own type (no conversion), then strip the padding.
    const size_t size = H5Tget_size(fileType);
    const H5T_str_t pad = H5Tget_strpad(fileType);
    h5::Datatype memType(H5Tcopy(fileType));
    std::vector<char> bytes(size * count);
    const herr_t status = isAttribute ? H5Aread(obj, memType.get(), bytes.data())
                                      : H5Dread(obj, memType.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data());
    if (status < 0) {
        fail(Kind::ReadFailed, file, object, "readable strings", hdf5Reason());
    }
    for (size_t i = 0; i < count; ++i) {
        const char* begin = bytes.data() + i * size;
        size_t length = strnlen(begin, size);
        if (pad == H5T_STR_SPACEPAD) {
            while (length > 0 && begin[length - 1] == ' ') {
                --length;
            }
        }
        result[i].assign(begin, length);
    }
    return result;
}

std::optional<std::string> readStringAttribute(const std::string& file, hid_t obj, const std::string& objPath,
                                               const char* name, bool required) {
    const std::string object = childPath(objPath, name);
    auto attr = openAttribute(obj, name);
    if (!attr) {
        if (required) {
            fail(Kind::MissingAttribute, file, object, "a string attribute", "no such attribute");
        }
        return std::nullopt;
    }
    h5::Datatype type = singleValueType(file, object, attr->get());
    if (H5Tget_class(type.get()) != H5T_STRING) {
        fail(Kind::BadAttribute, file, object, "a string", h5::describeType(type.get()));
    }
    h5::Dataspace space(H5Aget_space(attr->get()));
    return readStrings(file, object, attr->get(), true, type.get(), space.get(), 1).front();
}

// Integers: any HDF5 integer type, plus h5py's booleans (an enum over an integer base type).
std::optional<long long> readIntegerAttribute(const std::string& file, hid_t obj, const std::string& objPath,
                                              const char* name, bool required) {
    const std::string object = childPath(objPath, name);
    auto attr = openAttribute(obj, name);
    if (!attr) {
        if (required) {
            fail(Kind::MissingAttribute, file, object, "an integer attribute", "no such attribute");
        }
        return std::nullopt;
    }
    h5::Datatype type = singleValueType(file, object, attr->get());
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls == H5T_INTEGER) {
        long long value = 0;
        if (H5Aread(attr->get(), H5T_NATIVE_LLONG, &value) < 0) {
            fail(Kind::ReadFailed, file, object, "a readable integer", hdf5Reason());
        }
        return value;
    }
    if (cls == H5T_ENUM) {
        h5::Datatype base(H5Tget_super(type.get()));
        h5::Datatype nativeEnum(H5Tget_native_type(type.get(), H5T_DIR_ASCEND));
        const size_t size = nativeEnum ? H5Tget_size(nativeEnum.get()) : 0;
        if (base && H5Tget_class(base.get()) == H5T_INTEGER && size >= 1 && size <= 8) {
            unsigned char bytes[8] = {};
            if (H5Aread(attr->get(), nativeEnum.get(), bytes) < 0) {
                fail(Kind::ReadFailed, file, object, "a readable integer", hdf5Reason());
            }
            const bool isSigned = H5Tget_sign(base.get()) != H5T_SGN_NONE;
            switch (size) {
            case 1: return isSigned ? static_cast<long long>(static_cast<int8_t>(bytes[0])) : bytes[0];
            case 2: { int16_t s; uint16_t u; std::memcpy(&s, bytes, 2); std::memcpy(&u, bytes, 2);
                      return isSigned ? static_cast<long long>(s) : static_cast<long long>(u); }
            case 4: { int32_t s; uint32_t u; std::memcpy(&s, bytes, 4); std::memcpy(&u, bytes, 4);
                      return isSigned ? static_cast<long long>(s) : static_cast<long long>(u); }
            case 8: { long long s; std::memcpy(&s, bytes, 8); return s; }
            default: break;
            }
        }
    }
    fail(Kind::BadAttribute, file, object, "an integer", h5::describeType(type.get()));
}

// Floats: any HDF5 float type; integers are accepted too since they convert exactly.
std::optional<double> readFloatAttribute(const std::string& file, hid_t obj, const std::string& objPath,
                                         const char* name, bool required) {
    const std::string object = childPath(objPath, name);
    auto attr = openAttribute(obj, name);
    if (!attr) {
        if (required) {
            fail(Kind::MissingAttribute, file, object, "a float attribute", "no such attribute");
        }
        return std::nullopt;
    }
    h5::Datatype type = singleValueType(file, object, attr->get());
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        fail(Kind::BadAttribute, file, object, "a float", h5::describeType(type.get()));
    }
    double value = 0.0;
    if (H5Aread(attr->get(), H5T_NATIVE_DOUBLE, &value) < 0) {
        fail(Kind::ReadFailed, file, object, "a readable float", hdf5Reason());
    }
    return value;
}

int readDimension(const std::string& file, hid_t root, const char* name) {
    const long long value = *readIntegerAttribute(file, root, "/", name, true);
    if (value <= 0 || value > std::numeric_limits<int>::max()) {
        fail(Kind::BadAttribute, file, childPath("/", name), "a positive integer (at most 2^31-1)",
             std::to_string(value));
    }
    return static_cast<int>(value);
}

bool readFlag(const std::string& file, hid_t root, const char* name) {
    const long long value = *readIntegerAttribute(file, root, "/", name, true);
    if (value != 0 && value != 1) {
        fail(Kind::BadAttribute, file, childPath("/", name), "0 or 1", std::to_string(value));
    }
    return value == 1;
}

// ---------------------------------------------------------------------------------------------------
// Groups and datasets

h5::Group openGroup(const std::string& file, hid_t parent, const std::string& parentPath, const std::string& name) {
    const std::string object = childPath(parentPath, name);
    if (!h5::linkExists(parent, name)) {
        fail(Kind::MissingGroup, file, object, "a group", "nothing at that path");
    }
    const H5O_type_t type = h5::objectType(parent, name);
    if (type != H5O_TYPE_GROUP) {
        fail(Kind::MissingGroup, file, object, "a group",
             type == H5O_TYPE_DATASET ? "a dataset" : "an object that is not a group");
    }
    h5::Group group(H5Gopen2(parent, name.c_str(), H5P_DEFAULT));
    if (!group) {
        fail(Kind::ReadFailed, file, object, "a readable group", hdf5Reason());
    }
    return group;
}

struct DatasetMeta {
    std::string path;
    h5::Dataset dataset;
    h5::Datatype type;
    std::vector<hsize_t> dims;
};

DatasetMeta openDataset(const std::string& file, hid_t parent, const std::string& parentPath,
                        const std::string& name) {
    DatasetMeta meta;
    meta.path = childPath(parentPath, name);
    if (!h5::linkExists(parent, name)) {
        fail(Kind::MissingDataset, file, meta.path, "a dataset", "nothing at that path");
    }
    const H5O_type_t type = h5::objectType(parent, name);
    if (type != H5O_TYPE_DATASET) {
        fail(Kind::MissingDataset, file, meta.path, "a dataset",
             type == H5O_TYPE_GROUP ? "a group" : "an object that is not a dataset");
    }
    meta.dataset.reset(H5Dopen2(parent, name.c_str(), H5P_DEFAULT));
    if (!meta.dataset) {
        fail(Kind::ReadFailed, file, meta.path, "a readable dataset", hdf5Reason());
    }
    meta.type.reset(H5Dget_type(meta.dataset.get()));
    h5::Dataspace space(H5Dget_space(meta.dataset.get()));
    if (!meta.type || !space) {
        fail(Kind::ReadFailed, file, meta.path, "a readable dataset", hdf5Reason());
    }
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || H5Sget_simple_extent_type(space.get()) == H5S_NULL) {
        meta.dims.clear();
    } else {
        meta.dims.resize(static_cast<size_t>(rank));
        H5Sget_simple_extent_dims(space.get(), meta.dims.data(), nullptr);
    }
    return meta;
}

struct DimensionSpec {
    const char* role;      // "query heads", "tokens", ...
    long long value;       // expected extent
    const char* source;    // the root attribute it comes from
};

std::string shapeText(const std::vector<hsize_t>& dims) {
    std::string text = "[";
    for (size_t i = 0; i < dims.size(); ++i) {
        text += (i == 0 ? "" : ", ") + std::to_string(dims[i]);
    }
    return text + "]";
}

std::string specText(const std::vector<DimensionSpec>& spec) {
    std::string text = "[";
    for (size_t i = 0; i < spec.size(); ++i) {
        text += (i == 0 ? "" : ", ") + std::to_string(spec[i].value);
    }
    return text + "]";
}

// Rank first (its own error kind), then each dimension, naming the first that disagrees.
void checkShape(const std::string& file, const DatasetMeta& meta, const std::vector<DimensionSpec>& spec) {
    if (meta.dims.size() != spec.size()) {
        std::string expected = std::to_string(spec.size()) + " dimensions [";
        for (size_t i = 0; i < spec.size(); ++i) {
            expected += std::string(i == 0 ? "" : ", ") + spec[i].role;
        }
        fail(Kind::WrongRank, file, meta.path, expected + "]",
             std::to_string(meta.dims.size()) + " dimensions " + shapeText(meta.dims));
    }
    for (size_t i = 0; i < spec.size(); ++i) {
        if (static_cast<long long>(meta.dims[i]) != spec[i].value) {
            fail(Kind::WrongShape, file, meta.path,
                 "dimension " + std::to_string(i) + " (" + spec[i].role + ") = " + std::to_string(spec[i].value) +
                     " from " + spec[i].source + ", shape " + specText(spec),
                 "dimension " + std::to_string(i) + " = " + std::to_string(meta.dims[i]) + ", shape " +
                     shapeText(meta.dims));
        }
    }
}

bool isIeeeHalf(hid_t type) {
    if (H5Tget_class(type) != H5T_FLOAT || H5Tget_size(type) != 2) {
        return false;
    }
    size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
    if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) {
        return false;
    }
    return spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10 && H5Tget_ebias(type) == 15;
}

void checkElementType(const std::string& file, const DatasetMeta& meta, StorageType storage) {
    const hid_t type = meta.type.get();
    const std::string found = h5::describeType(type);
    switch (storage) {
    case StorageType::Float32:
        if (H5Tget_class(type) != H5T_FLOAT || H5Tget_size(type) != 4) {
            fail(Kind::WrongDtype, file, meta.path, "32-bit float (root dtype is float32)", found);
        }
        return;
    case StorageType::Float16:
        if (!isIeeeHalf(type)) {
            fail(Kind::WrongDtype, file, meta.path,
                 "16-bit IEEE half float (fields 15,10,5,0,10, bias 15; root dtype is float16)",
                 H5Tget_class(type) == H5T_FLOAT && H5Tget_size(type) == 2 ? found + " with other bit fields"
                                                                              : found);
        }
        return;
    case StorageType::BFloat16: {
        const std::string expected =
            "16-bit unsigned integer with attribute encoding = \"bfloat16\" (root dtype is bfloat16)";
        if (H5Tget_class(type) != H5T_INTEGER || H5Tget_size(type) != 2 || H5Tget_sign(type) != H5T_SGN_NONE) {
            fail(Kind::WrongDtype, file, meta.path, expected, found);
        }
        auto attr = openAttribute(meta.dataset.get(), "encoding");
        if (!attr) {
            fail(Kind::WrongDtype, file, meta.path, expected, found + " without an encoding attribute");
        }
        attr.reset();
        const std::string encoding = *readStringAttribute(file, meta.dataset.get(), meta.path, "encoding", true);
        if (encoding != "bfloat16") {
            fail(Kind::WrongDtype, file, meta.path, expected, found + " with encoding = \"" + encoding + "\"");
        }
        return;
    }
    }
}

// A dataset whose filters this HDF5 cannot decode (h5py's lzf, say) would only fail on the first read;
// say so at open instead.
void checkFilters(const std::string& file, const DatasetMeta& meta) {
    h5::PropertyList dcpl(H5Dget_create_plist(meta.dataset.get()));
    if (!dcpl) {
        return;
    }
    const int count = H5Pget_nfilters(dcpl.get());
    for (int i = 0; i < count; ++i) {
        unsigned flags = 0;
        size_t elements = 0;
        char name[128] = {};
        unsigned config = 0;
        const H5Z_filter_t id =
            H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &elements, nullptr, sizeof name, name, &config);
        // An optional filter that cannot run is skipped per chunk by HDF5, so only mandatory ones matter.
        if (id >= 0 && (flags & H5Z_FLAG_OPTIONAL) == 0 && H5Zfilter_avail(id) <= 0) {
            fail(Kind::ReadFailed, file, meta.path, "only filters this HDF5 library can decode (e.g. deflate, shuffle)",
                 "filter " + std::to_string(id) + (name[0] != '\0' ? " (" + std::string(name) + ")" : std::string()) +
                     ", which is not available");
        }
    }
}

std::vector<long long> readIntegerDataset(const std::string& file, const DatasetMeta& meta, size_t count) {
    std::vector<long long> values(count);
    if (count > 0 && H5Dread(meta.dataset.get(), H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) {
        fail(Kind::ReadFailed, file, meta.path, "readable integers", hdf5Reason());
    }
    return values;
}

std::vector<float> readFloatDataset(const std::string& file, const DatasetMeta& meta, size_t count) {
    std::vector<float> values(count);
    if (count > 0 && H5Dread(meta.dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) {
        fail(Kind::ReadFailed, file, meta.path, "readable floats", hdf5Reason());
    }
    return values;
}

void requireClass(const std::string& file, const DatasetMeta& meta, H5T_class_t cls, const char* expected) {
    if (H5Tget_class(meta.type.get()) != cls) {
        fail(Kind::WrongDtype, file, meta.path, expected, h5::describeType(meta.type.get()));
    }
}

// The file's size on disk, for messages.
std::string currentSizeText(const std::string& path, uintmax_t& size) {
    std::error_code ec;
    size = std::filesystem::file_size(path, ec);
    if (ec) {
        size = 0;
        return "unknown size (" + ec.message() + ")";
    }
    return std::to_string(size) + " bytes";
}

// Size of the file HDF5 has open, through its descriptor: the path may meanwhile name a new file (an
// atomic replace), which is not a truncation of ours. -1 when the driver exposes no descriptor.
long long openFileSize(hid_t file) {
    void* handle = nullptr;
    if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || handle == nullptr) {
        return -1;
    }
    struct stat status {};
    if (::fstat(*static_cast<int*>(handle), &status) != 0) {
        return -1;
    }
    return static_cast<long long>(status.st_size);
}

// ---------------------------------------------------------------------------------------------------
// Slab conversion: 16-bit bits -> fp32 and the finiteness check in one pass (the loops vectorize).

// half::float16ToFloat without branches, so the loop below vectorizes (identical on all 65536 inputs;
// tests/io read every finite pattern back through a file).
inline float widenFloat16(uint32_t h) {
    const uint32_t sign = (h & 0x8000u) << 16;
    const uint32_t magnitude = h & 0x7FFFu;
    const uint32_t infNan = 0u - static_cast<uint32_t>(magnitude >= 0x7C00u);
    // Exponent rebiased 15 -> 127 (255 for Inf/NaN, payload kept).
    const uint32_t normal = (magnitude << 13) + (112u << 23) + (infNan & (112u << 23));
    // Zero and subnormals: mantissa * 2^-24, exact in fp32.
    const uint32_t subnormal =
        std::bit_cast<uint32_t>(static_cast<float>(static_cast<int32_t>(magnitude)) * 5.9604644775390625e-8f);
    const uint32_t isSubnormal = 0u - static_cast<uint32_t>(magnitude < 0x400u);
    return std::bit_cast<float>((subnormal & isSubnormal) | (normal & ~isSubnormal) | sign);
}

// Widens bits[0, n) into values[0, n) (fp32 storage: checks values in place, bits unused) and
// returns the index of the first non-finite value, n when there is none.
size_t widenChecked(StorageType storage, const uint16_t* bits, float* values, size_t n) {
    uint32_t nonFinite = 0;
    switch (storage) {
    case StorageType::BFloat16:
        for (size_t i = 0; i < n; ++i) {
            const uint32_t b = bits[i];
            values[i] = std::bit_cast<float>(b << 16);
            nonFinite |= static_cast<uint32_t>((b & 0x7F80u) == 0x7F80u);
        }
        break;
    case StorageType::Float16:
        for (size_t i = 0; i < n; ++i) {
            const uint32_t b = bits[i];
            values[i] = widenFloat16(b);
            nonFinite |= static_cast<uint32_t>((b & 0x7C00u) == 0x7C00u);
        }
        break;
    case StorageType::Float32:
        for (size_t i = 0; i < n; ++i) {
            nonFinite |= static_cast<uint32_t>((std::bit_cast<uint32_t>(values[i]) & 0x7F800000u) == 0x7F800000u);
        }
        break;
    }
    if (nonFinite == 0) {
        return n;
    }
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(values[i])) {
            return i;
        }
    }
    return n;
}

// Sizes `v` to n elements. A vector that has to grow gets its new pages as transparent huge pages
// where the kernel offers them (madvise mode): first-touching a layer's few hundred MB in 4 KiB pages
// costs more than reading it from the page cache. A vector of the right size is left alone.
void resizeForLayer(std::vector<float>& v, size_t n) {
    if (n > v.capacity()) {
        std::vector<float>().swap(v);
        v.reserve(n);
#ifdef MADV_HUGEPAGE
        constexpr uintptr_t kHuge = uintptr_t{1} << 21;
        const uintptr_t begin = (reinterpret_cast<uintptr_t>(v.data()) + kHuge - 1) & ~(kHuge - 1);
        const uintptr_t end = reinterpret_cast<uintptr_t>(v.data() + n) & ~(kHuge - 1);
        if (end > begin) {
            (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // a hint only
        }
#endif
    }
    v.resize(n);
}

// The slabs of one layer, converted in chunks on helper threads while the calling thread reads the
// next slabs with HDF5 (which stays on that one thread: the library is the serial build). Chunks are
// claimed in slab order; a chunk waits until its slab has been read. The first non-finite value in
// slab order is what the serial reader reported, whatever order the chunks ran in.
class LayerConversion {
public:
    static constexpr size_t kNone = std::numeric_limits<size_t>::max();
    struct Slab {
        const uint16_t* bits;  // the raw 16-bit slab; nullptr for fp32 (values are checked in place)
        float* values;
        size_t count;
    };
    struct NonFinite {
        size_t slab = kNone;
        size_t index = 0;
    };

    LayerConversion(StorageType storage, std::vector<Slab> slabs, size_t chunk)
        : m_storage(storage), m_slabs(std::move(slabs)) {
        for (size_t s = 0; s < m_slabs.size(); ++s) {
            for (size_t begin = 0; begin < m_slabs[s].count; begin += chunk) {
                m_tasks.push_back({s, begin, std::min(begin + chunk, m_slabs[s].count)});
            }
        }
    }
    LayerConversion(const LayerConversion&) = delete;
    LayerConversion& operator=(const LayerConversion&) = delete;
    ~LayerConversion() {
        endReading();
        joinHelpers();
    }

    void startHelpers(int count) {
        try {
            for (int i = 0; i < count; ++i) {
                m_helpers.emplace_back([this] { work(); });
            }
        } catch (const std::system_error&) {
            // Fewer helpers: the calling thread converts what they leave (finish()).
        }
    }
    // Slabs [0, slab] are in place.
    void markRead(size_t slab) {
        {
            std::lock_guard lock(m_mutex);
            m_read.store(slab + 1, std::memory_order_release);
        }
        m_ready.notify_all();
    }
    // No more slabs will be read (all of them, or up to a failure).
    void endReading() {
        {
            std::lock_guard lock(m_mutex);
            m_done = true;
        }
        m_ready.notify_all();
    }
    // The earliest slab known to hold a non-finite value (kNone: none yet); reading on is wasted.
    size_t firstBadSlab() const { return m_badSlab.load(std::memory_order_relaxed); }
    // Converts what is left on the calling thread, joins the helpers, and returns the first
    // non-finite value in slab order among the slabs read (slab kNone: none).
    NonFinite finish() {
        work();
        joinHelpers();
        return m_first;
    }

private:
    struct Task {
        size_t slab, begin, end;
    };

    void joinHelpers() {
        for (std::thread& t : m_helpers) {
            if (t.joinable()) {
                t.join();
            }
        }
    }

    void work() {
        for (;;) {
            const size_t task = m_next.fetch_add(1);
            if (task >= m_tasks.size()) {
                return;
            }
            const Task& t = m_tasks[task];
            if (t.slab > m_badSlab.load(std::memory_order_relaxed)) {
                return;  // every later task is of a later slab still
            }
            if (m_read.load(std::memory_order_acquire) <= t.slab) {
                std::unique_lock lock(m_mutex);
                m_ready.wait(lock, [&] { return m_read.load(std::memory_order_relaxed) > t.slab || m_done; });
                if (m_read.load(std::memory_order_relaxed) <= t.slab) {
                    return;  // reading stopped before this slab, so before every later one
                }
            }
            const Slab& slab = m_slabs[t.slab];
            const size_t n = t.end - t.begin;
            const size_t bad =
                widenChecked(m_storage, slab.bits != nullptr ? slab.bits + t.begin : nullptr, slab.values + t.begin, n);
            if (bad < n) {
                std::lock_guard lock(m_mutex);
                const size_t index = t.begin + bad;
                if (t.slab < m_first.slab || (t.slab == m_first.slab && index < m_first.index)) {
                    m_first = {t.slab, index};
                    m_badSlab.store(t.slab, std::memory_order_relaxed);
                }
            }
        }
    }

    const StorageType m_storage;
    const std::vector<Slab> m_slabs;
    std::vector<Task> m_tasks;
    std::atomic<size_t> m_next{0};
    std::atomic<size_t> m_read{0};          // slabs [0, m_read) are in place
    std::atomic<size_t> m_badSlab{kNone};
    std::mutex m_mutex;                     // guards m_done, m_first and the waits on m_read
    std::condition_variable m_ready;
    bool m_done = false;
    NonFinite m_first;
    std::vector<std::thread> m_helpers;
};

}  // namespace

// ---------------------------------------------------------------------------------------------------

struct CaptureReader::Impl {
    CaptureInfo info;
    h5::File file;
    uintmax_t sizeAtOpen = 0;
    std::vector<std::string> referenceGroups;  // parallel to info.references

    ~Impl() {
        h5::Session session;
        file.reset();
    }

    // A file cut after open reads as zeros past its end (HDF5 does not check), so the size is checked
    // before every load, and again to explain a failed read.
    void checkNotShrunk(const std::string& object, const std::string& reason) const {
        const long long now = openFileSize(file.get());
        if (now >= 0 && static_cast<uintmax_t>(now) < sizeAtOpen) {
            fail(Kind::Truncated, info.path, object,
                 "a file of " + std::to_string(sizeAtOpen) + " bytes, as when it was opened",
                 "a file of " + std::to_string(now) + " bytes" + (reason.empty() ? "" : " (" + reason + ")"));
        }
    }

    [[noreturn]] void readFailure(const std::string& object, const std::string& expected) const {
        const std::string reason = hdf5Reason();
        checkNotShrunk(object, reason);
        fail(Kind::ReadFailed, info.path, object, expected, reason);
    }

    void openFile();
    void readRootAttributes();
    void readTokens();
    void checkLayers();
    void readReferences();
    // A layer tensor, opened for reading head `head` (a failure is that head's read failure).
    h5::Dataset openTensor(const std::string& object, int head) const;
    // The memory type slabs are read as: fp32 (HDF5 converts from any float type), or the raw 16-bit
    // bits in native byte order, which HDF5 copies without a conversion pass.
    h5::Datatype memoryType(hid_t dataset, const std::string& object, int head) const;
    // Reads the hyperslab [head, :, :] (seqLen x width elements of memType) into `out`.
    void readHyperslab(hid_t dataset, const std::string& object, int head, size_t width, hid_t memType,
                       void* out) const;
    [[noreturn]] void nonFinite(const std::string& object, int head, size_t width, size_t index, float value) const;
    void loadTensor(int layer, const char* name, int head, size_t width, std::vector<float>& out) const;
    void loadLayer(int layer, LayerTensors& out, int threads) const;

    // The raw 16-bit slabs of the layer being loaded, kept between loads (the reader is used from one
    // thread at a time).
    mutable std::vector<uint16_t> layerBits;
};

void CaptureReader::Impl::openFile() {
    const std::string& path = info.path;
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) {
        const bool absent = !ec || ec == std::errc::no_such_file_or_directory;
        fail(Kind::FileNotFound, path, "", "an existing file", absent ? "no such file or directory" : ec.message());
    }
    if (std::filesystem::is_directory(status)) {
        fail(Kind::FileNotFound, path, "", "a capture file", "a directory");
    }
    if (::access(path.c_str(), R_OK) != 0) {
        fail(Kind::FileNotFound, path, "", "a readable file", std::string("no read permission: ") + std::strerror(errno));
    }
    uintmax_t size = 0;
    const std::string sizeText = currentSizeText(path, size);

    h5::clearErrorStack();
    const htri_t isHdf5 = H5Fis_hdf5(path.c_str());
    if (isHdf5 == 0) {
        fail(Kind::NotHdf5, path, "", "an HDF5 file (signature \\211HDF\\r\\n\\032\\n)",
             size == 0 ? std::string("an empty file") : "a file of " + sizeText + " without the HDF5 signature");
    }
    if (isHdf5 < 0) {
        fail(Kind::FileNotFound, path, "", "a readable file", hdf5Reason());
    }

    // The close degree stays the driver default: HDF5 shares one open file between all handles of a
    // process and refuses a second open with a different degree, which would break other code (or a
    // second reader) opening the same capture while this one is open.
    h5::PropertyList fapl(H5Pcreate(H5P_FILE_ACCESS));
    // Read-only locks are harmless, but file systems without flock support must not make open fail.
    H5Pset_file_locking(fapl.get(), true, true);
    h5::clearErrorStack();
    file.reset(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()));
    if (file) {
        const long long openSize = openFileSize(file.get());
        sizeAtOpen = openSize >= 0 ? static_cast<uintmax_t>(openSize) : size;
        return;
    }
    const std::string reason = h5::errorStackText();
    if (reason.find("unable to lock") != std::string::npos) {
        fail(Kind::ReadFailed, path, "", "a file not locked by a writer", "HDF5: " + reason);
    }
    // HDF5 phrases a cut file as "truncated file: eof = N, sblock->base_addr = B, stored_eof = M".
    const size_t at = reason.find("stored_eof = ");
    if (at != std::string::npos) {
        const std::string storedEof = reason.substr(at + 13, reason.find_first_not_of("0123456789", at + 13) - at - 13);
        fail(Kind::Truncated, path, "",
             "a file of " + storedEof + " bytes (the end of file recorded in its superblock)",
             "a file of " + sizeText + " (HDF5: " + reason + ")");
    }
    fail(Kind::Truncated, path, "", "a complete HDF5 file", "a file of " + sizeText + " that HDF5 cannot open (" +
                                                                 (reason.empty() ? "no reason given" : "HDF5: " + reason) +
                                                                 ")");
}

void CaptureReader::Impl::readRootAttributes() {
    const std::string& path = info.path;
    h5::Group root(H5Gopen2(file.get(), "/", H5P_DEFAULT));
    if (!root) {
        fail(Kind::Truncated, path, "/", "a readable root group", hdf5Reason());
    }
    const hid_t r = root.get();

    // format and version decide whether the rest is worth checking, so they get their own kinds.
    {
        auto attr = openAttribute(r, "format");
        if (!attr) {
            fail(Kind::NotACapture, path, "/format", std::string("root attribute format = \"") + kFormatName + "\"",
                 "no format attribute");
        }
        h5::Datatype type = singleValueType(path, "/format", attr->get());
        if (H5Tget_class(type.get()) != H5T_STRING) {
            fail(Kind::NotACapture, path, "/format", std::string("the string \"") + kFormatName + "\"",
                 h5::describeType(type.get()));
        }
        attr.reset();
        const std::string format = *readStringAttribute(path, r, "/", "format", true);
        if (format != kFormatName) {
            fail(Kind::NotACapture, path, "/format", std::string("\"") + kFormatName + "\"", "\"" + format + "\"");
        }
    }
    const long long version = *readIntegerAttribute(path, r, "/", "version", true);
    if (version != kFormatVersion) {
        fail(Kind::UnsupportedVersion, path, "/version", "version " + std::to_string(kFormatVersion),
             "version " + std::to_string(version));
    }
    info.version = static_cast<int>(version);

    info.model = *readStringAttribute(path, r, "/", "model", true);
    info.modelType = *readStringAttribute(path, r, "/", "model_type", true);
    info.causal = readFlag(path, r, "causal");
    info.ropeApplied = readFlag(path, r, "rope_applied");

    const double scale = *readFloatAttribute(path, r, "/", "softmax_scale", true);
    if (!std::isfinite(scale) || scale <= 0.0) {
        fail(Kind::BadAttribute, path, "/softmax_scale", "a positive finite float", std::to_string(scale));
    }
    info.softmaxScale = scale;
    const double softcap = readFloatAttribute(path, r, "/", "softcap", false).value_or(0.0);
    if (!std::isfinite(softcap) || softcap < 0.0) {
        fail(Kind::BadAttribute, path, "/softcap", "a finite float >= 0 (0: none)", std::to_string(softcap));
    }
    info.softcap = softcap;

    info.numLayers = readDimension(path, r, "num_layers");
    info.numQueryHeads = readDimension(path, r, "num_q_heads");
    info.numKvHeads = readDimension(path, r, "num_kv_heads");
    if (info.numQueryHeads % info.numKvHeads != 0) {
        fail(Kind::BadAttribute, path, "/num_kv_heads",
             "a divisor of num_q_heads = " + std::to_string(info.numQueryHeads),
             std::to_string(info.numKvHeads));
    }
    info.headDim = readDimension(path, r, "head_dim");
    if (auto attr = openAttribute(r, "value_dim")) {
        attr.reset();
        info.valueDim = readDimension(path, r, "value_dim");
    } else {
        info.valueDim = info.headDim;
    }
    info.seqLen = readDimension(path, r, "seq_len");

    const std::string dtype = *readStringAttribute(path, r, "/", "dtype", true);
    if (dtype == "float32") {
        info.storage = StorageType::Float32;
    } else if (dtype == "float16") {
        info.storage = StorageType::Float16;
    } else if (dtype == "bfloat16") {
        info.storage = StorageType::BFloat16;
    } else {
        fail(Kind::BadAttribute, path, "/dtype", "\"float16\", \"bfloat16\" or \"float32\"", "\"" + dtype + "\"");
    }
    info.source = *readStringAttribute(path, r, "/", "source", true);
    info.created = *readStringAttribute(path, r, "/", "created", true);
    info.prompt = readStringAttribute(path, r, "/", "prompt", false).value_or("");
}

void CaptureReader::Impl::readTokens() {
    const std::string& path = info.path;
    h5::Group tokens = openGroup(path, file.get(), "/", "tokens");
    const auto T = static_cast<size_t>(info.seqLen);
    const std::vector<DimensionSpec> shape = {{"tokens", info.seqLen, "seq_len"}};

    DatasetMeta ids = openDataset(path, tokens.get(), "/tokens", "ids");
    checkShape(path, ids, shape);
    requireClass(path, ids, H5T_INTEGER, "an integer type (int32 or int64)");
    const std::vector<long long> idValues = readIntegerDataset(path, ids, T);
    info.tokens.ids.assign(idValues.begin(), idValues.end());

    DatasetMeta text = openDataset(path, tokens.get(), "/tokens", "text");
    checkShape(path, text, shape);
    requireClass(path, text, H5T_STRING, "a string type (variable-length UTF-8 recommended)");
    {
        h5::Dataspace space(H5Dget_space(text.dataset.get()));
        info.tokens.text = readStrings(path, text.path, text.dataset.get(), false, text.type.get(), space.get(), T);
    }

    info.tokens.special.assign(T, 0);
    if (h5::linkExists(tokens.get(), "special")) {
        DatasetMeta special = openDataset(path, tokens.get(), "/tokens", "special");
        checkShape(path, special, shape);
        requireClass(path, special, H5T_INTEGER, "an integer type (uint8)");
        const std::vector<long long> flags = readIntegerDataset(path, special, T);
        for (size_t i = 0; i < T; ++i) {
            info.tokens.special[i] = flags[i] != 0 ? 1 : 0;
        }
    }
}

void CaptureReader::Impl::checkLayers() {
    const std::string& path = info.path;
    h5::Group layers = openGroup(path, file.get(), "/", "layers");
    info.layers.clear();
    for (int l = 0; l < info.numLayers; ++l) {
        const std::string name = std::to_string(l);
        const std::string layerPath = "/layers/" + name;
        h5::Group group = openGroup(path, layers.get(), "/layers", name);

        CaptureLayerInfo layerInfo;
        const long long window = readIntegerAttribute(path, group.get(), layerPath, "sliding_window", false).value_or(0);
        if (window < 0 || window > std::numeric_limits<int>::max()) {
            fail(Kind::BadAttribute, path, layerPath + "/sliding_window", "an integer >= 0 (0: none)",
                 std::to_string(window));
        }
        layerInfo.slidingWindow = static_cast<int>(window);

        const struct {
            const char* name;
            DimensionSpec heads;
            DimensionSpec width;
        } tensors[] = {
            {"q", {"query heads", info.numQueryHeads, "num_q_heads"}, {"head dim", info.headDim, "head_dim"}},
            {"k", {"kv heads", info.numKvHeads, "num_kv_heads"}, {"head dim", info.headDim, "head_dim"}},
            {"v", {"kv heads", info.numKvHeads, "num_kv_heads"},
             {"value dim", info.valueDim, "value_dim (default head_dim)"}},
        };
        for (const auto& tensor : tensors) {
            DatasetMeta meta = openDataset(path, group.get(), layerPath, tensor.name);
            checkShape(path, meta, {tensor.heads, {"tokens", info.seqLen, "seq_len"}, tensor.width});
            checkElementType(path, meta, info.storage);
            checkFilters(path, meta);
        }
        info.layers.push_back(layerInfo);
    }
}

void CaptureReader::Impl::readReferences() {
    const std::string& path = info.path;
    if (!h5::linkExists(file.get(), "reference") || h5::objectType(file.get(), "reference") != H5O_TYPE_GROUP) {
        return;  // optional; anything else by that name is not ours to judge
    }
    h5::Group refs = openGroup(path, file.get(), "/", "reference");
    H5G_info_t groupInfo{};
    if (H5Gget_info(refs.get(), &groupInfo) < 0) {
        fail(Kind::ReadFailed, path, "/reference", "a readable group", hdf5Reason());
    }
    std::vector<std::pair<ReferenceHeadInfo, std::string>> found;
    for (hsize_t i = 0; i < groupInfo.nlinks; ++i) {
        const ssize_t length =
            H5Lget_name_by_idx(refs.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        if (length < 0) {
            fail(Kind::ReadFailed, path, "/reference", "readable member names", hdf5Reason());
        }
        std::string name(static_cast<size_t>(length) + 1, '\0');
        H5Lget_name_by_idx(refs.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
        name.resize(static_cast<size_t>(length));
        if (h5::objectType(refs.get(), name) != H5O_TYPE_GROUP) {
            continue;  // readers ignore what they do not know
        }
        const std::string groupPath = "/reference/" + name;
        h5::Group group = openGroup(path, refs.get(), "/reference", name);
        ReferenceHeadInfo ref;
        ref.name = name;
        const long long layer = *readIntegerAttribute(path, group.get(), groupPath, "layer", true);
        if (layer < 0 || layer >= info.numLayers) {
            fail(Kind::BadAttribute, path, groupPath + "/layer",
                 "a layer index in [0, " + std::to_string(info.numLayers) + ")", std::to_string(layer));
        }
        const long long head = *readIntegerAttribute(path, group.get(), groupPath, "head", true);
        if (head < 0 || head >= info.numQueryHeads) {
            fail(Kind::BadAttribute, path, groupPath + "/head",
                 "a query head in [0, " + std::to_string(info.numQueryHeads) + ")", std::to_string(head));
        }
        ref.layer = static_cast<int>(layer);
        ref.queryHead = static_cast<int>(head);
        ref.source = *readStringAttribute(path, group.get(), groupPath, "source", true);

        DatasetMeta rows = openDataset(path, group.get(), groupPath, "rows");
        if (rows.dims.size() != 1) {
            checkShape(path, rows, {{"rows", 0, "rows"}});  // reports the rank
        }
        const auto R = static_cast<long long>(rows.dims[0]);
        requireClass(path, rows, H5T_INTEGER, "an integer type (int32)");
        DatasetMeta probs = openDataset(path, group.get(), groupPath, "probs");
        checkShape(path, probs, {{"rows", R, "rows"}, {"tokens", info.seqLen, "seq_len"}});
        requireClass(path, probs, H5T_FLOAT, "a float type (float32)");
        DatasetMeta lse = openDataset(path, group.get(), groupPath, "lse");
        checkShape(path, lse, {{"rows", R, "rows"}});
        requireClass(path, lse, H5T_FLOAT, "a float type (float32)");
        found.emplace_back(ref, name);
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
        if (a.first.layer != b.first.layer) {
            return a.first.layer < b.first.layer;
        }
        if (a.first.queryHead != b.first.queryHead) {
            return a.first.queryHead < b.first.queryHead;
        }
        return a.first.name < b.first.name;
    });
    for (auto& [ref, name] : found) {
        info.references.push_back(ref);
        referenceGroups.push_back(name);
    }
}

h5::Dataset CaptureReader::Impl::openTensor(const std::string& object, int head) const {
    h5::clearErrorStack();
    h5::Dataset dataset(H5Dopen2(file.get(), object.c_str(), H5P_DEFAULT));
    if (!dataset) {
        readFailure(object, "readable data for head " + std::to_string(head));
    }
    // Chunks of one head each (the writer's [1, min(T, 4096), d]) are read once per load, so HDF5's
    // chunk cache only adds a copy of every chunk: without it, HDF5 reads them straight into place
    // (about 30 % less time per layer). Other chunkings keep the cache. HDF5 shares one dataset
    // object between open handles, so the access list only takes effect on a fresh open.
    h5::PropertyList dcpl(H5Dget_create_plist(dataset.get()));
    hsize_t chunk[3] = {};
    if (dcpl && H5Pget_layout(dcpl.get()) == H5D_CHUNKED && H5Pget_chunk(dcpl.get(), 3, chunk) == 3 &&
        chunk[0] == 1) {
        h5::PropertyList dapl(H5Pcreate(H5P_DATASET_ACCESS));
        if (dapl &&
            H5Pset_chunk_cache(dapl.get(), H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT) >= 0) {
            dataset.reset();
            dataset.reset(H5Dopen2(file.get(), object.c_str(), dapl.get()));
            if (!dataset) {
                readFailure(object, "readable data for head " + std::to_string(head));
            }
        }
    }
    h5::clearErrorStack();
    return dataset;
}

h5::Datatype CaptureReader::Impl::memoryType(hid_t dataset, const std::string& object, int head) const {
    switch (info.storage) {
    case StorageType::Float32:
        return h5::Datatype(H5Tcopy(H5T_NATIVE_FLOAT));
    case StorageType::Float16: {
        // The file's own half type in native byte order: HDF5 sees identical types and copies the bits;
        // we widen them ourselves (exact, and far faster than HDF5's bit-by-bit soft float conversion).
        h5::Datatype storedType(H5Dget_type(dataset));
        h5::Datatype halfType(storedType ? H5Tcopy(storedType.get()) : H5I_INVALID_HID);  // a stored type is read-only
        if (!halfType || H5Tset_order(halfType.get(), H5Tget_order(H5T_NATIVE_FLOAT)) < 0) {
            readFailure(object, "readable data for head " + std::to_string(head));
        }
        return halfType;
    }
    case StorageType::BFloat16:
        break;
    }
    return h5::Datatype(H5Tcopy(H5T_NATIVE_UINT16));
}

void CaptureReader::Impl::readHyperslab(hid_t dataset, const std::string& object, int head, size_t width,
                                        hid_t memType, void* out) const {
    const std::string expected = "readable data for head " + std::to_string(head);
    h5::clearErrorStack();
    h5::Dataspace fileSpace(H5Dget_space(dataset));
    const auto T = static_cast<hsize_t>(info.seqLen);
    const hsize_t start[3] = {static_cast<hsize_t>(head), 0, 0};
    const hsize_t count[3] = {1, T, static_cast<hsize_t>(width)};
    const hsize_t memDims[2] = {T, static_cast<hsize_t>(width)};
    h5::Dataspace memSpace(H5Screate_simple(2, memDims, nullptr));
    if (!fileSpace || !memSpace ||
        H5Sselect_hyperslab(fileSpace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0) {
        readFailure(object, expected);
    }
    if (H5Dread(dataset, memType, memSpace.get(), fileSpace.get(), H5P_DEFAULT, out) < 0) {
        readFailure(object, expected);
    }
}

void CaptureReader::Impl::nonFinite(const std::string& object, int head, size_t width, size_t index,
                                    float value) const {
    const std::string text = std::isnan(value) ? "NaN" : (value > 0 ? "+Inf" : "-Inf");
    fail(Kind::NonFiniteValue, info.path, object, "finite values",
         text + " at head " + std::to_string(head) + ", token " + std::to_string(index / width) + ", channel " +
             std::to_string(index % width));
}

void CaptureReader::Impl::loadTensor(int layer, const char* name, int head, size_t width,
                                     std::vector<float>& out) const {
    const std::string object = "/layers/" + std::to_string(layer) + "/" + name;
    const h5::Dataset dataset = openTensor(object, head);
    const h5::Datatype memType = memoryType(dataset.get(), object, head);
    const auto T = static_cast<size_t>(info.seqLen);
    const bool raw16 = info.storage != StorageType::Float32;
    std::vector<uint16_t> bits;
    try {
        out.assign(T * width, 0.0f);
        if (raw16) {
            bits.resize(T * width);
        }
    } catch (const std::bad_alloc&) {
        fail(Kind::ReadFailed, info.path, object, "a head that fits in memory",
             std::to_string(T) + " x " + std::to_string(width) + " elements could not be allocated");
    }
    void* into = raw16 ? static_cast<void*>(bits.data()) : static_cast<void*>(out.data());
    readHyperslab(dataset.get(), object, head, width, memType.get(), into);
    const size_t bad = widenChecked(info.storage, bits.data(), out.data(), out.size());
    if (bad < out.size()) {
        nonFinite(object, head, width, bad, out[bad]);
    }
}

void CaptureReader::Impl::loadLayer(int layer, LayerTensors& out, int threads) const {
    const std::string layerPath = "/layers/" + std::to_string(layer);
    std::optional<h5::Session> session(std::in_place);
    out.layer = layer;
    out.qHeads = info.numQueryHeads;
    out.kvHeads = info.numKvHeads;
    out.seqLen = info.seqLen;
    out.headDim = info.headDim;
    out.valueDim = info.valueDim;
    out.config = info.attentionConfig(layer);
    out.storage = info.storage;
    checkNotShrunk(layerPath, "");

    struct Tensor {
        const char* name;
        int heads;
        size_t width;
        std::vector<float>* values;
    };
    const Tensor tensors[] = {
        {"q", out.qHeads, static_cast<size_t>(out.headDim), &out.q},
        {"k", out.kvHeads, static_cast<size_t>(out.headDim), &out.k},
        {"v", out.kvHeads, static_cast<size_t>(out.valueDim), &out.v},
    };
    const auto T = static_cast<size_t>(info.seqLen);
    const bool raw16 = info.storage != StorageType::Float32;
    size_t total = 0;
    for (const Tensor& t : tensors) {
        total += static_cast<size_t>(t.heads) * T * t.width;
    }
    try {
        for (const Tensor& t : tensors) {
            resizeForLayer(*t.values, static_cast<size_t>(t.heads) * T * t.width);
        }
        if (raw16 && layerBits.size() < total) {
            std::vector<uint16_t>().swap(layerBits);
            layerBits.resize(total);
        }
    } catch (const std::bad_alloc&) {
        fail(Kind::ReadFailed, info.path, layerPath, "a layer that fits in memory",
             std::to_string(total) + " elements (" + std::to_string(raw16 ? 6 * total : 4 * total) +
                 " bytes) could not be allocated");
    }

    // Slabs in the order the serial reader read them: q heads, then k heads, then v heads.
    struct SlabSource {
        const Tensor* tensor;
        int head;
        size_t bitsOffset;  // in layerBits (16-bit storage)
    };
    std::vector<SlabSource> sources;
    std::vector<LayerConversion::Slab> slabs;
    size_t offset = 0;
    for (const Tensor& t : tensors) {
        const size_t count = T * t.width;
        for (int h = 0; h < t.heads; ++h) {
            sources.push_back({&t, h, offset});
            slabs.push_back({raw16 ? layerBits.data() + offset : nullptr, t.values->data() + h * count, count});
            offset += count;
        }
    }
    // Chunks of 128 Ki elements: a few per head (several hundred per Llama-size layer), each well
    // above the cost of claiming it.
    LayerConversion conversion(info.storage, std::move(slabs), size_t{1} << 17);
    // At most 8 by default: a few helpers already convert faster than one thread reads with HDF5, and
    // the overview converts the previous layer for the GPU on other cores meanwhile.
    const int workers = threads > 0 ? threads : threadsFor(total, size_t{1} << 18, 8);
    conversion.startHelpers(workers - 1);  // this thread reads, then converts with them

    std::exception_ptr readError;
    size_t readFailedAt = LayerConversion::kNone;
    size_t s = 0;
    try {
        for (const Tensor& t : tensors) {
            const std::string object = layerPath + "/" + t.name;
            h5::Dataset dataset;
            h5::Datatype memType;
            for (int h = 0; h < t.heads; ++h, ++s) {
                if (conversion.firstBadSlab() < s) {
                    break;  // an earlier slab holds a non-finite value: that is the error
                }
                if (!dataset) {
                    dataset = openTensor(object, h);
                    memType = memoryType(dataset.get(), object, h);
                }
                // Straight into place: the fp32 tensor itself, or this slab's part of the raw bits.
                void* into = raw16 ? static_cast<void*>(layerBits.data() + sources[s].bitsOffset)
                                   : static_cast<void*>(t.values->data() + h * T * t.width);
                readHyperslab(dataset.get(), object, h, t.width, memType.get(), into);
                conversion.markRead(s);
            }
            if (conversion.firstBadSlab() < s) {
                break;
            }
        }
    } catch (...) {
        readError = std::current_exception();
        readFailedAt = s;
    }
    conversion.endReading();
    session.reset();  // HDF5 is done; the conversion needs no lock

    const LayerConversion::NonFinite bad = conversion.finish();
    if (bad.slab != LayerConversion::kNone && bad.slab < readFailedAt) {
        const SlabSource& source = sources[bad.slab];
        const std::vector<float>& values = *source.tensor->values;
        nonFinite(layerPath + "/" + source.tensor->name, source.head, source.tensor->width, bad.index,
                  values[source.head * T * source.tensor->width + bad.index]);
    }
    if (readError) {
        std::rethrow_exception(readError);
    }
}

// ---------------------------------------------------------------------------------------------------

CaptureReader::CaptureReader(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
CaptureReader::~CaptureReader() = default;
CaptureReader::CaptureReader(CaptureReader&&) noexcept = default;
CaptureReader& CaptureReader::operator=(CaptureReader&&) noexcept = default;

CaptureReader CaptureReader::open(const std::string& path) {
    h5::Session session;
    auto impl = std::make_unique<Impl>();
    impl->info.path = path;
    impl->openFile();
    impl->readRootAttributes();
    impl->readTokens();
    impl->checkLayers();
    impl->readReferences();
    return CaptureReader(std::move(impl));
}

const CaptureInfo& CaptureReader::info() const { return m_impl->info; }

HeadTensors CaptureReader::loadHead(int layer, int queryHead) const {
    h5::Session session;
    const CaptureInfo& info = m_impl->info;
    if (layer < 0 || layer >= info.numLayers) {
        fail(Kind::InvalidArgument, info.path, "/layers/" + std::to_string(layer),
             "a layer index in [0, " + std::to_string(info.numLayers) + ")", "layer " + std::to_string(layer));
    }
    if (queryHead < 0 || queryHead >= info.numQueryHeads) {
        fail(Kind::InvalidArgument, info.path, "/layers/" + std::to_string(layer) + "/q",
             "a query head in [0, " + std::to_string(info.numQueryHeads) + ")", "head " + std::to_string(queryHead));
    }
    HeadTensors head;
    head.seqLen = info.seqLen;
    head.headDim = info.headDim;
    head.valueDim = info.valueDim;
    head.config = info.attentionConfig(layer);
    head.storage = info.storage;
    head.layer = layer;
    head.queryHead = queryHead;
    head.kvHead = info.kvHeadFor(queryHead);
    m_impl->checkNotShrunk("/layers/" + std::to_string(layer), "");
    m_impl->loadTensor(layer, "q", queryHead, static_cast<size_t>(info.headDim), head.q);
    m_impl->loadTensor(layer, "k", head.kvHead, static_cast<size_t>(info.headDim), head.k);
    m_impl->loadTensor(layer, "v", head.kvHead, static_cast<size_t>(info.valueDim), head.v);
    return head;
}

LayerTensors CaptureReader::loadLayer(int layer) const {
    LayerTensors out;
    loadLayer(layer, out);
    return out;
}

void CaptureReader::loadLayer(int layer, LayerTensors& out, int threads) const {
    const CaptureInfo& info = m_impl->info;
    if (layer < 0 || layer >= info.numLayers) {
        fail(Kind::InvalidArgument, info.path, "/layers/" + std::to_string(layer),
             "a layer index in [0, " + std::to_string(info.numLayers) + ")", "layer " + std::to_string(layer));
    }
    m_impl->loadLayer(layer, out, threads);
}

ReferenceValues CaptureReader::loadReference(const std::string& name) const {
    h5::Session session;
    const CaptureInfo& info = m_impl->info;
    const std::string& path = info.path;
    const auto it = std::find(m_impl->referenceGroups.begin(), m_impl->referenceGroups.end(), name);
    if (it == m_impl->referenceGroups.end()) {
        std::string known;
        for (const auto& group : m_impl->referenceGroups) {
            known += (known.empty() ? "" : ", ") + group;
        }
        fail(Kind::InvalidArgument, path, "/reference/" + name,
             "one of the reference groups (" + (known.empty() ? std::string("none in this file") : known) + ")",
             "\"" + name + "\"");
    }
    ReferenceValues values;
    values.info = info.references[static_cast<size_t>(it - m_impl->referenceGroups.begin())];
    const std::string groupPath = "/reference/" + name;
    h5::Group refs = openGroup(path, m_impl->file.get(), "/", "reference");
    h5::Group group = openGroup(path, refs.get(), "/reference", name);

    DatasetMeta rows = openDataset(path, group.get(), groupPath, "rows");
    const auto R = static_cast<size_t>(rows.dims.at(0));
    const std::vector<long long> rowValues = readIntegerDataset(path, rows, R);
    for (size_t i = 0; i < R; ++i) {
        if (rowValues[i] < 0 || rowValues[i] >= info.seqLen || (i > 0 && rowValues[i] <= rowValues[i - 1])) {
            fail(Kind::WrongShape, path, rows.path,
                 "sorted, unique row indices in [0, " + std::to_string(info.seqLen) + ")",
                 "row " + std::to_string(rowValues[i]) + " at position " + std::to_string(i));
        }
    }
    values.rows.assign(rowValues.begin(), rowValues.end());
    values.probs = readFloatDataset(path, openDataset(path, group.get(), groupPath, "probs"),
                                    R * static_cast<size_t>(info.seqLen));
    values.lse = readFloatDataset(path, openDataset(path, group.get(), groupPath, "lse"), R);
    return values;
}

}  // namespace attnscope
