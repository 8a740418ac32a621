// writeCapture: validates the caller's arrays against CaptureInfo, writes capture format v1 into a
// temporary file beside the target and renames it into place, so readers never see a partial capture.
// fp16 and bf16 are rounded to nearest-even here (HDF5's own conversion rounds ties away from zero).

#include "attnscope/io/capture-writer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include "attnscope/io/capture-error.h"
#include "io/half-float.h"
#include "io/hdf5-handles.h"

#ifndef ATTNSCOPE_VERSION_STRING
#define ATTNSCOPE_VERSION_STRING "0.0.0"
#endif

namespace attnscope {

namespace {

using Kind = CaptureErrorKind;

constexpr size_t kMaxPromptBytes = 64 * 1024;
constexpr hsize_t kMaxChunkTokens = 4096;

[[noreturn]] void invalid(const std::string& file, const std::string& object, const std::string& expected,
                          const std::string& found) {
    throw CaptureError(Kind::InvalidArgument, file, object, expected, found);
}

const char* dtypeName(StorageType storage) {
    switch (storage) {
    case StorageType::Float32: return "float32";
    case StorageType::Float16: return "float16";
    case StorageType::BFloat16: return "bfloat16";
    }
    return "float32";
}

std::string utcNow() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32] = {};
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

// Cuts at most kMaxPromptBytes without splitting a UTF-8 sequence.
std::string clipPrompt(const std::string& prompt) {
    if (prompt.size() <= kMaxPromptBytes) {
        return prompt;
    }
    size_t end = kMaxPromptBytes;
    while (end > 0 && (static_cast<unsigned char>(prompt[end]) & 0xC0u) == 0x80u) {
        --end;
    }
    return prompt.substr(0, end);
}

void checkSize(const std::string& file, const std::string& object, size_t actual, size_t expected,
               const std::string& shape) {
    if (actual != expected) {
        invalid(file, object, std::to_string(expected) + " elements " + shape, std::to_string(actual) + " elements");
    }
}

// Everything the caller controls is checked before a file is created, so bad input leaves no trace.
void validateInput(const std::string& path, const CaptureInfo& info, const std::vector<LayerTensors>& layers,
                   const std::vector<ReferenceValues>& references, int valueDim) {
    const struct {
        const char* name;
        int value;
    } dims[] = {{"numLayers", info.numLayers},   {"numQueryHeads", info.numQueryHeads},
                {"numKvHeads", info.numKvHeads}, {"headDim", info.headDim},
                {"valueDim", valueDim},          {"seqLen", info.seqLen}};
    for (const auto& dim : dims) {
        if (dim.value <= 0) {
            invalid(path, std::string("info.") + dim.name, "a positive value", std::to_string(dim.value));
        }
    }
    if (info.numQueryHeads % info.numKvHeads != 0) {
        invalid(path, "info.numKvHeads", "a divisor of numQueryHeads = " + std::to_string(info.numQueryHeads),
                std::to_string(info.numKvHeads));
    }
    if (!std::isfinite(info.softmaxScale) || info.softmaxScale <= 0.0) {
        invalid(path, "info.softmaxScale", "a positive finite value", std::to_string(info.softmaxScale));
    }
    if (!std::isfinite(info.softcap) || info.softcap < 0.0) {
        invalid(path, "info.softcap", "a finite value >= 0", std::to_string(info.softcap));
    }
    const auto T = static_cast<size_t>(info.seqLen);
    checkSize(path, "info.tokens.ids", info.tokens.ids.size(), T, "[seqLen]");
    checkSize(path, "info.tokens.text", info.tokens.text.size(), T, "[seqLen]");
    if (!info.tokens.special.empty()) {
        checkSize(path, "info.tokens.special", info.tokens.special.size(), T, "[seqLen] (or empty)");
    }
    if (layers.size() != static_cast<size_t>(info.numLayers)) {
        invalid(path, "layers", std::to_string(info.numLayers) + " layers (info.numLayers)",
                std::to_string(layers.size()));
    }
    const auto d = static_cast<size_t>(info.headDim);
    const auto dv = static_cast<size_t>(valueDim);
    for (size_t l = 0; l < layers.size(); ++l) {
        const std::string name = "layers[" + std::to_string(l) + "]";
        checkSize(path, name + ".q", layers[l].q.size(), static_cast<size_t>(info.numQueryHeads) * T * d,
                  "[numQueryHeads, seqLen, headDim]");
        checkSize(path, name + ".k", layers[l].k.size(), static_cast<size_t>(info.numKvHeads) * T * d,
                  "[numKvHeads, seqLen, headDim]");
        checkSize(path, name + ".v", layers[l].v.size(), static_cast<size_t>(info.numKvHeads) * T * dv,
                  "[numKvHeads, seqLen, valueDim]");
        if (layers[l].config.slidingWindow < 0) {
            invalid(path, name + ".config.slidingWindow", "a value >= 0 (0: none)", std::to_string(layers[l].config.slidingWindow));
        }
    }
    std::vector<std::string> names;
    for (size_t r = 0; r < references.size(); ++r) {
        const ReferenceValues& ref = references[r];
        const std::string object = "references[" + std::to_string(r) + "]";
        const std::string& name = ref.info.name;
        if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
            invalid(path, object + ".info.name", "a non-empty group name without '/'", "\"" + name + "\"");
        }
        if (std::find(names.begin(), names.end(), name) != names.end()) {
            invalid(path, object + ".info.name", "a name not used by another reference", "\"" + name + "\" again");
        }
        names.push_back(name);
        if (ref.info.layer < 0 || ref.info.layer >= info.numLayers) {
            invalid(path, object + ".info.layer", "a layer in [0, " + std::to_string(info.numLayers) + ")",
                    std::to_string(ref.info.layer));
        }
        if (ref.info.queryHead < 0 || ref.info.queryHead >= info.numQueryHeads) {
            invalid(path, object + ".info.queryHead", "a query head in [0, " + std::to_string(info.numQueryHeads) + ")",
                    std::to_string(ref.info.queryHead));
        }
        for (size_t i = 0; i < ref.rows.size(); ++i) {
            if (ref.rows[i] < 0 || ref.rows[i] >= info.seqLen || (i > 0 && ref.rows[i] <= ref.rows[i - 1])) {
                invalid(path, object + ".rows", "sorted, unique rows in [0, " + std::to_string(info.seqLen) + ")",
                        "row " + std::to_string(ref.rows[i]) + " at position " + std::to_string(i));
            }
        }
        checkSize(path, object + ".probs", ref.probs.size(), ref.rows.size() * T, "[rows, seqLen]");
        checkSize(path, object + ".lse", ref.lse.size(), ref.rows.size(), "[rows]");
    }
}

// Removes the temporary file unless the rename into place succeeded.
class TempFileGuard {
public:
    explicit TempFileGuard(std::filesystem::path path) : m_path(std::move(path)) {}
    ~TempFileGuard() {
        if (m_armed) {
            std::error_code ec;
            std::filesystem::remove(m_path, ec);
        }
    }
    TempFileGuard(const TempFileGuard&) = delete;
    TempFileGuard& operator=(const TempFileGuard&) = delete;
    void disarm() { m_armed = false; }

private:
    std::filesystem::path m_path;
    bool m_armed = true;
};

// The HDF5 side of one write. Every failure throws WriteFailed naming the final path and the object.
class Writer {
public:
    Writer(std::string path, const CaptureInfo& info, const CaptureWriteOptions& options, int valueDim)
        : m_path(std::move(path)), m_info(info), m_options(options), m_valueDim(valueDim) {}

    void create(const std::string& tempPath) {
        h5::PropertyList fapl(H5Pcreate(H5P_FILE_ACCESS));
        H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
        H5Pset_file_locking(fapl.get(), true, true);
        h5::clearErrorStack();
        m_file.reset(H5Fcreate(tempPath.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get()));
        check(m_file.valid(), "", "a new file in the target's directory (" + tempPath + ")");
        m_fileHalf = h5::makeHalfType(H5T_IEEE_F32LE);
        m_memHalf = h5::makeHalfType(H5T_NATIVE_FLOAT);
    }

    void close() {
        h5::clearErrorStack();
        // H5Fclose flushes; its failure (disk full, say) must not go unnoticed.
        check(H5Fclose(m_file.release()) >= 0, "", "the file flushed and closed");
    }

    void writeRoot() {
        const hid_t root = m_file.get();
        writeString(root, "/", "format", "attnscope-capture");
        writeInteger(root, "/", "version", 1);
        writeString(root, "/", "model", m_info.model);
        writeString(root, "/", "model_type", m_info.modelType);
        writeInteger(root, "/", "causal", m_info.causal ? 1 : 0);
        writeInteger(root, "/", "rope_applied", m_info.ropeApplied ? 1 : 0);
        writeFloat(root, "/", "softmax_scale", m_info.softmaxScale);
        writeFloat(root, "/", "softcap", m_info.softcap);
        writeInteger(root, "/", "num_layers", m_info.numLayers);
        writeInteger(root, "/", "num_q_heads", m_info.numQueryHeads);
        writeInteger(root, "/", "num_kv_heads", m_info.numKvHeads);
        writeInteger(root, "/", "head_dim", m_info.headDim);
        writeInteger(root, "/", "value_dim", m_valueDim);
        writeInteger(root, "/", "seq_len", m_info.seqLen);
        writeString(root, "/", "dtype", dtypeName(m_info.storage));
        writeString(root, "/", "source",
                    m_info.source.empty() ? std::string("attnscope-core ") + ATTNSCOPE_VERSION_STRING : m_info.source);
        writeString(root, "/", "created", m_info.created.empty() ? utcNow() : m_info.created);
        if (!m_info.prompt.empty()) {
            writeString(root, "/", "prompt", clipPrompt(m_info.prompt));
        }
    }

    void writeTokens() {
        h5::Group tokens = createGroup(m_file.get(), "/tokens");
        const std::vector<hsize_t> dims = {static_cast<hsize_t>(m_info.seqLen)};
        writeDataset(tokens.get(), "/tokens/ids", H5T_STD_I64LE, H5T_NATIVE_INT64, dims, m_info.tokens.ids.data());

        std::vector<const char*> pointers;
        pointers.reserve(m_info.tokens.text.size());
        for (const std::string& piece : m_info.tokens.text) {
            pointers.push_back(piece.c_str());
        }
        h5::Datatype stringType = variableUtf8();
        writeDataset(tokens.get(), "/tokens/text", stringType.get(), stringType.get(), dims, pointers.data());

        if (!m_info.tokens.special.empty()) {
            std::vector<uint8_t> flags(m_info.tokens.special.size());
            std::transform(m_info.tokens.special.begin(), m_info.tokens.special.end(), flags.begin(),
                           [](uint8_t f) { return static_cast<uint8_t>(f != 0 ? 1 : 0); });
            writeDataset(tokens.get(), "/tokens/special", H5T_STD_U8LE, H5T_NATIVE_UINT8, dims, flags.data());
        }
    }

    void writeLayers(const std::vector<LayerTensors>& layers) {
        h5::Group group = createGroup(m_file.get(), "/layers");
        for (size_t l = 0; l < layers.size(); ++l) {
            const std::string layerPath = "/layers/" + std::to_string(l);
            h5::Group layer = createGroup(m_file.get(), layerPath);
            if (layers[l].config.slidingWindow > 0) {
                writeInteger(layer.get(), layerPath, "sliding_window", layers[l].config.slidingWindow);
            }
            writeTensor(layer.get(), layerPath + "/q", layers[l].q, m_info.numQueryHeads, m_info.headDim);
            writeTensor(layer.get(), layerPath + "/k", layers[l].k, m_info.numKvHeads, m_info.headDim);
            writeTensor(layer.get(), layerPath + "/v", layers[l].v, m_info.numKvHeads, m_valueDim);
        }
    }

    void writeReferences(const std::vector<ReferenceValues>& references) {
        if (references.empty()) {
            return;
        }
        h5::Group group = createGroup(m_file.get(), "/reference");
        for (const ReferenceValues& ref : references) {
            const std::string refPath = "/reference/" + ref.info.name;
            h5::Group entry = createGroup(m_file.get(), refPath);
            writeInteger(entry.get(), refPath, "layer", ref.info.layer);
            writeInteger(entry.get(), refPath, "head", ref.info.queryHead);
            writeString(entry.get(), refPath, "source", ref.info.source);
            const auto R = static_cast<hsize_t>(ref.rows.size());
            writeDataset(entry.get(), refPath + "/rows", H5T_STD_I32LE, H5T_NATIVE_INT32, {R}, ref.rows.data());
            writeDataset(entry.get(), refPath + "/probs", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                         {R, static_cast<hsize_t>(m_info.seqLen)}, ref.probs.data());
            writeDataset(entry.get(), refPath + "/lse", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {R}, ref.lse.data());
        }
    }

private:
    void check(bool ok, const std::string& object, const std::string& expected) {
        if (!ok) {
            const std::string reason = h5::errorStackText();
            throw CaptureError(Kind::WriteFailed, m_path, object, expected,
                               reason.empty() ? "an HDF5 failure without a reason" : "HDF5: " + reason);
        }
    }

    static std::string leafName(const std::string& objectPath) {
        return objectPath.substr(objectPath.find_last_of('/') + 1);
    }

    static h5::Datatype variableUtf8() {
        h5::Datatype type(H5Tcopy(H5T_C_S1));
        H5Tset_size(type.get(), H5T_VARIABLE);
        H5Tset_cset(type.get(), H5T_CSET_UTF8);
        return type;
    }

    h5::Group createGroup(hid_t file, const std::string& groupPath) {
        h5::clearErrorStack();
        h5::Group group(H5Gcreate2(file, groupPath.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
        check(group.valid(), groupPath, "a new group");
        return group;
    }

    void writeAttribute(hid_t obj, const std::string& objPath, const char* name, hid_t fileType, hid_t memType,
                        const void* value) {
        const std::string object = objPath == "/" ? std::string("/") + name : objPath + "/" + name;
        h5::clearErrorStack();
        h5::Dataspace scalar(H5Screate(H5S_SCALAR));
        h5::Attribute attr(H5Acreate2(obj, name, fileType, scalar.get(), H5P_DEFAULT, H5P_DEFAULT));
        check(attr.valid() && H5Awrite(attr.get(), memType, value) >= 0, object, "a written attribute");
    }

    void writeString(hid_t obj, const std::string& objPath, const char* name, const std::string& value) {
        h5::Datatype type = variableUtf8();
        const char* pointer = value.c_str();
        writeAttribute(obj, objPath, name, type.get(), type.get(), &pointer);
    }

    void writeInteger(hid_t obj, const std::string& objPath, const char* name, int64_t value) {
        writeAttribute(obj, objPath, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
    }

    void writeFloat(hid_t obj, const std::string& objPath, const char* name, double value) {
        writeAttribute(obj, objPath, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
    }

    // Small, unchunked dataset written in one go (tokens, references).
    void writeDataset(hid_t parent, const std::string& object, hid_t fileType, hid_t memType,
                      const std::vector<hsize_t>& dims, const void* data) {
        h5::clearErrorStack();
        h5::Dataspace space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
        h5::Dataset dataset(H5Dcreate2(parent, leafName(object).c_str(), fileType, space.get(), H5P_DEFAULT,
                                       H5P_DEFAULT, H5P_DEFAULT));
        check(dataset.valid(), object, "a new dataset");
        hsize_t count = 1;
        for (hsize_t dim : dims) {
            count *= dim;
        }
        if (count > 0) {  // nothing to write for zero reference rows (and data may be null)
            check(H5Dwrite(dataset.get(), memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, object,
                  "the dataset written");
        }
    }

    // q, k or v of one layer: [heads, T, width], chunked one head's rows at a time, converted to the
    // storage type with round-to-nearest-even.
    void writeTensor(hid_t layer, const std::string& object, const std::vector<float>& values, int heads, int width) {
        const auto T = static_cast<hsize_t>(m_info.seqLen);
        const hsize_t dims[3] = {static_cast<hsize_t>(heads), T, static_cast<hsize_t>(width)};
        const hsize_t chunk[3] = {1, std::min(T, kMaxChunkTokens), static_cast<hsize_t>(width)};

        h5::clearErrorStack();
        h5::PropertyList dcpl(H5Pcreate(H5P_DATASET_CREATE));
        check(dcpl.valid() && H5Pset_chunk(dcpl.get(), 3, chunk) >= 0, object, "a chunked layout");
        // Compression is optional in the format: without a deflate filter, write uncompressed.
        if (m_options.deflate && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
            check(H5Pset_shuffle(dcpl.get()) >= 0 &&
                      H5Pset_deflate(dcpl.get(), static_cast<unsigned>(std::clamp(m_options.deflateLevel, 0, 9))) >= 0,
                  object, "the shuffle and deflate filters");
        }

        hid_t fileType = H5T_IEEE_F32LE;
        hid_t memType = H5T_NATIVE_FLOAT;
        const void* data = values.data();
        std::vector<uint16_t> bits;
        if (m_info.storage == StorageType::Float16 || m_info.storage == StorageType::BFloat16) {
            const bool isHalf = m_info.storage == StorageType::Float16;
            bits.resize(values.size());
            for (size_t i = 0; i < values.size(); ++i) {
                bits[i] = isHalf ? half::floatToFloat16(values[i]) : half::floatToBfloat16(values[i]);
                const float back = isHalf ? half::float16ToFloat(bits[i]) : half::bfloat16ToFloat(bits[i]);
                if (std::isfinite(values[i]) && !std::isfinite(back)) {
                    const size_t perHead = static_cast<size_t>(T) * static_cast<size_t>(width);
                    invalid(m_path, object,
                            std::string("values within the ") + dtypeName(m_info.storage) + " range",
                            std::to_string(values[i]) + " at head " + std::to_string(i / perHead) + ", token " +
                                std::to_string(i % perHead / static_cast<size_t>(width)) + ", channel " +
                                std::to_string(i % static_cast<size_t>(width)));
                }
            }
            fileType = isHalf ? m_fileHalf.get() : H5T_STD_U16LE;
            memType = isHalf ? m_memHalf.get() : H5T_NATIVE_UINT16;
            data = bits.data();
        }

        h5::Dataspace space(H5Screate_simple(3, dims, nullptr));
        h5::Dataset dataset(
            H5Dcreate2(layer, leafName(object).c_str(), fileType, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
        check(dataset.valid(), object, "a new dataset");
        check(H5Dwrite(dataset.get(), memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, object,
              "the dataset written");
        if (m_info.storage == StorageType::BFloat16) {
            writeString(dataset.get(), object, "encoding", "bfloat16");
        }
    }

    std::string m_path;
    const CaptureInfo& m_info;
    const CaptureWriteOptions& m_options;
    int m_valueDim;
    h5::File m_file;
    h5::Datatype m_fileHalf;
    h5::Datatype m_memHalf;
};

std::filesystem::path temporaryPathFor(const std::filesystem::path& target) {
    static std::atomic<unsigned> counter{0};
    // Built with append: GCC 12 raises a false -Wrestrict on the equivalent chain of operator+.
    std::string name = ".";
    name.append(target.filename().string())
        .append(".tmp-")
        .append(std::to_string(::getpid()))
        .append("-")
        .append(std::to_string(counter.fetch_add(1)));
    std::filesystem::path temp = target;
    temp.replace_filename(name);
    return temp;
}

// Makes the data durable before the rename publishes it, so a crash cannot leave an empty capture.
void syncFile(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

}  // namespace

void writeCapture(const std::string& path, const CaptureInfo& info, const std::vector<LayerTensors>& layers,
                  const std::vector<ReferenceValues>& references, const CaptureWriteOptions& options) {
    const int valueDim = info.valueDim > 0 ? info.valueDim : info.headDim;
    validateInput(path, info, layers, references, valueDim);

    const std::filesystem::path target(path);
    if (target.filename().empty()) {
        invalid(path, "", "a file path", "a path without a file name");
    }
    const std::filesystem::path temp = temporaryPathFor(target);
    TempFileGuard guard(temp);
    {
        h5::Session session;
        Writer writer(path, info, options, valueDim);
        writer.create(temp.string());
        writer.writeRoot();
        writer.writeTokens();
        writer.writeLayers(layers);
        writer.writeReferences(references);
        writer.close();
    }
    syncFile(temp);
    std::error_code ec;
    std::filesystem::rename(temp, target, ec);
    if (ec) {
        throw CaptureError(Kind::WriteFailed, path, "", "the temporary file " + temp.string() + " renamed into place",
                           ec.message());
    }
    guard.disarm();
}

}  // namespace attnscope
