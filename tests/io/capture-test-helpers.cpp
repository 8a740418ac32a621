// Synthetic captures and the raw HDF5 editor used by the capture I/O tests (see the header).

#include "capture-test-helpers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace attnscope::test {

namespace {

// A small integer hash, so every element's value is reproducible without storing a generator state.
uint32_t mix(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

float valueAt(int layer, int tensor, int head, int token, int channel) {
    const uint32_t key = mix(static_cast<uint32_t>(layer) * 0x9E3779B9U ^ mix(static_cast<uint32_t>(tensor) * 7919U ^
                             mix(static_cast<uint32_t>(head) * 104729U ^ mix(static_cast<uint32_t>(token) * 31U ^
                                                                             static_cast<uint32_t>(channel)))));
    return static_cast<float>(key % 65536U) / 8192.0f - 4.0f;
}

std::vector<float> tensorValues(int layer, int tensor, int heads, int seqLen, int width) {
    std::vector<float> values(static_cast<size_t>(heads) * seqLen * width);
    size_t i = 0;
    for (int h = 0; h < heads; ++h) {
        for (int t = 0; t < seqLen; ++t) {
            for (int c = 0; c < width; ++c) {
                values[i++] = valueAt(layer, tensor, h, t, c);
            }
        }
    }
    return values;
}

hid_t openParent(hid_t file, const std::string& object) {
    return H5Oopen(file, object.c_str(), H5P_DEFAULT);
}

}  // namespace

std::string testFilePath(const std::string& suffix) {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = test != nullptr ? std::string(test->test_suite_name()) + "-" + test->name() : "no-test";
    for (char& c : name) {
        if (c == '/' || c == ' ') {
            c = '_';
        }
    }
    const std::filesystem::path dir = std::filesystem::path(ATTNSCOPE_TEST_DATA_DIR) / "io";
    std::filesystem::create_directories(dir);
    const std::filesystem::path path = dir / (name + suffix + ".h5");
    std::filesystem::remove(path);
    return path.string();
}

SyntheticCapture makeCapture(const CaptureSpec& spec) {
    SyntheticCapture capture;
    CaptureInfo& info = capture.info;
    info.model = "test/synthetic-model";
    info.modelType = "llama";
    info.source = "attnscope tests";
    info.created = "2025-01-02T03:04:05Z";
    info.prompt = "Grüße, 世界! A prompt.";
    info.causal = true;
    info.ropeApplied = true;
    info.softmaxScale = 1.0 / std::sqrt(static_cast<double>(spec.headDim));
    info.softcap = 0.0;
    info.numLayers = spec.numLayers;
    info.numQueryHeads = spec.numQueryHeads;
    info.numKvHeads = spec.numKvHeads;
    info.headDim = spec.headDim;
    info.valueDim = spec.valueDim;
    info.seqLen = spec.seqLen;
    info.storage = spec.storage;

    const char* pieces[] = {"<s>", "Hello", " wörld", " 日本", " 🙂", "", " naïve", "</s>"};
    for (int t = 0; t < spec.seqLen; ++t) {
        info.tokens.ids.push_back(static_cast<int64_t>(t) * 1000 + 17 + (t == 3 ? (int64_t{1} << 40) : 0));
        info.tokens.text.emplace_back(pieces[t % 8]);
        info.tokens.special.push_back(t % 8 == 0 || t % 8 == 7 ? 1 : 0);
    }
    for (int l = 0; l < spec.numLayers; ++l) {
        LayerTensors layer;
        layer.q = tensorValues(l, 0, spec.numQueryHeads, spec.seqLen, spec.headDim);
        layer.k = tensorValues(l, 1, spec.numKvHeads, spec.seqLen, spec.headDim);
        layer.v = tensorValues(l, 2, spec.numKvHeads, spec.seqLen, spec.valueDim);
        layer.config.slidingWindow = 0;
        capture.layers.push_back(std::move(layer));
        info.layers.push_back({});
    }
    return capture;
}

std::string writeSynthetic(const SyntheticCapture& capture, const std::string& suffix,
                           const CaptureWriteOptions& options) {
    const std::string path = testFilePath(suffix);
    writeCapture(path, capture.info, capture.layers, capture.references, options);
    return path;
}

std::vector<float> slab(const std::vector<float>& all, int head, int seqLen, int width) {
    const size_t size = static_cast<size_t>(seqLen) * width;
    return {all.begin() + static_cast<std::ptrdiff_t>(head * size),
            all.begin() + static_cast<std::ptrdiff_t>((head + 1) * size)};
}

std::vector<unsigned char> readBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeBytes(const std::string& path, const std::vector<unsigned char>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

RawEditor::RawEditor(const std::string& path) {
    m_file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    if (m_file < 0) {
        ADD_FAILURE() << "RawEditor: cannot open " << path;
    }
}

RawEditor::~RawEditor() {
    if (m_file >= 0 && H5Fclose(m_file) < 0) {
        ADD_FAILURE() << "RawEditor: H5Fclose failed";
    }
}

void RawEditor::deleteAttribute(const std::string& object, const std::string& name) {
    if (H5Adelete_by_name(m_file, object.c_str(), name.c_str(), H5P_DEFAULT) < 0) {
        ADD_FAILURE() << "RawEditor: cannot delete attribute " << name << " of " << object;
    }
}

namespace {

void replaceAttribute(hid_t file, const std::string& object, const std::string& name, hid_t fileType,
                      hid_t memType, const void* value) {
    const hid_t obj = openParent(file, object);
    if (obj < 0) {
        ADD_FAILURE() << "RawEditor: no object " << object;
        return;
    }
    if (H5Aexists(obj, name.c_str()) > 0) {
        H5Adelete(obj, name.c_str());
    }
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(obj, name.c_str(), fileType, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0 || H5Awrite(attr, memType, value) < 0) {
        ADD_FAILURE() << "RawEditor: cannot write attribute " << name << " of " << object;
    }
    if (attr >= 0) {
        H5Aclose(attr);
    }
    H5Sclose(space);
    H5Oclose(obj);
}

}  // namespace

void RawEditor::setIntegerAttribute(const std::string& object, const std::string& name, long long value,
                                    hid_t type) {
    replaceAttribute(m_file, object, name, type, H5T_NATIVE_LLONG, &value);
}

void RawEditor::setFloatAttribute(const std::string& object, const std::string& name, double value, hid_t type) {
    replaceAttribute(m_file, object, name, type, H5T_NATIVE_DOUBLE, &value);
}

void RawEditor::setStringAttribute(const std::string& object, const std::string& name, const std::string& value,
                                   bool fixedLength) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    if (fixedLength) {
        H5Tset_size(type, value.empty() ? 1 : value.size());
        H5Tset_strpad(type, H5T_STR_NULLPAD);
        H5Tset_cset(type, H5T_CSET_ASCII);
        std::string padded = value;
        padded.resize(value.empty() ? 1 : value.size(), '\0');
        replaceAttribute(m_file, object, name, type, type, padded.data());
    } else {
        H5Tset_size(type, H5T_VARIABLE);
        H5Tset_cset(type, H5T_CSET_UTF8);
        const char* pointer = value.c_str();
        replaceAttribute(m_file, object, name, type, type, &pointer);
    }
    H5Tclose(type);
}

void RawEditor::setBoolAttribute(const std::string& object, const std::string& name, bool value) {
    const hid_t type = H5Tenum_create(H5T_NATIVE_INT8);
    const int8_t no = 0;
    const int8_t yes = 1;
    H5Tenum_insert(type, "FALSE", &no);
    H5Tenum_insert(type, "TRUE", &yes);
    const int8_t stored = value ? yes : no;
    replaceAttribute(m_file, object, name, type, type, &stored);
    H5Tclose(type);
}

void RawEditor::deleteLink(const std::string& path) {
    if (H5Ldelete(m_file, path.c_str(), H5P_DEFAULT) < 0) {
        ADD_FAILURE() << "RawEditor: cannot delete " << path;
    }
}

void RawEditor::replaceDataset(const std::string& path, hid_t type, const std::vector<hsize_t>& dims, double fill) {
    if (H5Lexists(m_file, path.c_str(), H5P_DEFAULT) > 0) {
        deleteLink(path);
    }
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t dataset = H5Dcreate2(m_file, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dataset < 0) {
        ADD_FAILURE() << "RawEditor: cannot create " << path;
        H5Sclose(space);
        return;
    }
    hsize_t count = 1;
    for (hsize_t dim : dims) {
        count *= dim;
    }
    if (H5Tget_class(type) != H5T_STRING && count > 0) {
        std::vector<double> values(count, fill);
        if (H5Dwrite(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) {
            ADD_FAILURE() << "RawEditor: cannot fill " << path;
        }
    }
    H5Dclose(dataset);
    H5Sclose(space);
}

void RawEditor::writeElement(const std::string& path, const std::vector<hsize_t>& index, float value) {
    const hid_t dataset = H5Dopen2(m_file, path.c_str(), H5P_DEFAULT);
    const hid_t fileSpace = H5Dget_space(dataset);
    const std::vector<hsize_t> count(index.size(), 1);
    H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, index.data(), nullptr, count.data(), nullptr);
    const hsize_t one = 1;
    const hid_t memSpace = H5Screate_simple(1, &one, nullptr);
    if (dataset < 0 || H5Dwrite(dataset, H5T_NATIVE_FLOAT, memSpace, fileSpace, H5P_DEFAULT, &value) < 0) {
        ADD_FAILURE() << "RawEditor: cannot write an element of " << path;
    }
    H5Sclose(memSpace);
    H5Sclose(fileSpace);
    H5Dclose(dataset);
}

}  // namespace attnscope::test
