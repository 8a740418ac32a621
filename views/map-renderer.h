// Draws attention-map tiles with Vulkan inside a caller's render pass: each tile is an R32F texture
// of pooled values, colored in the fragment shader through core's ValueScale and colormap tables.
// No Qt: QVulkanWindow (map-window.cpp) and the headless test target drive the same code.
// Textures are named by id; releasing one defers its destruction until in-flight frames finish.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace attnscope::views {

struct MapColorParams {
    float maxValue = 1.0f;
    float decades = 6.0f;
    int colormap = 0;  // ColormapName
    bool logarithmic = false;
    bool signedValues = false;
};

struct MapDrawItem {
    uint64_t texture = 0;
    float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // framebuffer pixels
    VkRect2D scissor{};
    bool maskOverlay = false;  // draw as a dimming overlay (kept fraction texture)
    MapColorParams color;
};

class MapRenderer {
public:
    MapRenderer() = default;
    MapRenderer(const MapRenderer&) = delete;
    MapRenderer& operator=(const MapRenderer&) = delete;
    ~MapRenderer();

    // Creates the pipeline for `renderPass` (subpass 0). Returns false and sets `error` on failure.
    bool initialize(VkPhysicalDevice physicalDevice, VkDevice device, VkRenderPass renderPass,
                    VkSampleCountFlagBits samples, std::string* error);
    // Frees everything; the caller makes sure the device is idle.
    void shutdown();
    bool initialized() const { return m_device != VK_NULL_HANDLE; }

    // Staged now, copied to the GPU by the next recordUploads(). Values are [height, width].
    uint64_t createTexture(int width, int height, const float* values);
    void releaseTexture(uint64_t id);
    size_t textureCount() const { return m_textures.size(); }
    size_t pendingUploads() const { return m_pending.size(); }

    // Once per frame, outside the render pass: records staged copies, frees retired textures.
    void recordUploads(VkCommandBuffer cmd);
    // Inside the render pass. Items whose texture is unknown or not uploaded are skipped.
    void draw(VkCommandBuffer cmd, uint32_t framebufferWidth, uint32_t framebufferHeight,
              const std::vector<MapDrawItem>& items);

    // Frames that may be in flight at once (QVulkanWindow: concurrentFrameCount()).
    void setFramesInFlight(int frames) { m_framesInFlight = frames; }

private:
    struct Texture {
        VkImage image = VK_NULL_HANDLE;
        VkDeviceMemory memory = VK_NULL_HANDLE;
        VkImageView view = VK_NULL_HANDLE;
        VkDescriptorSet descriptors = VK_NULL_HANDLE;
        VkBuffer staging = VK_NULL_HANDLE;
        VkDeviceMemory stagingMemory = VK_NULL_HANDLE;
        int width = 0, height = 0;
        bool uploaded = false;
    };
    struct Retired {
        Texture texture;
        uint64_t frame = 0;
    };

    bool createTextureResources(Texture& t, int width, int height, VkFormat format, const void* data, size_t bytes);
    void destroyTexture(Texture& t);
    uint32_t memoryType(uint32_t typeBits, VkMemoryPropertyFlags wanted) const;
    void recordUpload(VkCommandBuffer cmd, Texture& t);

    VkPhysicalDevice m_physicalDevice = VK_NULL_HANDLE;
    VkDevice m_device = VK_NULL_HANDLE;
    VkDescriptorSetLayout m_setLayout = VK_NULL_HANDLE;
    VkPipelineLayout m_pipelineLayout = VK_NULL_HANDLE;
    VkPipeline m_pipeline = VK_NULL_HANDLE;
    VkSampler m_sampler = VK_NULL_HANDLE;
    VkDescriptorPool m_pool = VK_NULL_HANDLE;
    Texture m_lut;
    std::unordered_map<uint64_t, Texture> m_textures;
    std::vector<uint64_t> m_pending;
    std::vector<Retired> m_retired;
    uint64_t m_nextId = 1;
    uint64_t m_frame = 0;
    int m_framesInFlight = 3;
};

}  // namespace attnscope::views
