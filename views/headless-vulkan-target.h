// An offscreen Vulkan device and color image with no window system (STACK.md §4 "Headless
// alternative"): the render tests draw the map into it on lavapipe and read the pixels back.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <vector>

namespace attnscope::views {

class HeadlessVulkanTarget {
public:
    HeadlessVulkanTarget() = default;
    HeadlessVulkanTarget(const HeadlessVulkanTarget&) = delete;
    HeadlessVulkanTarget& operator=(const HeadlessVulkanTarget&) = delete;
    ~HeadlessVulkanTarget();

    // False with a reason when there is no Vulkan driver (tests skip then).
    bool create(int width, int height, std::string* error);

    VkInstance instance() const { return m_instance; }
    VkPhysicalDevice physicalDevice() const { return m_physicalDevice; }
    VkDevice device() const { return m_device; }
    VkQueue queue() const { return m_queue; }
    uint32_t queueFamily() const { return m_queueFamily; }
    VkRenderPass renderPass() const { return m_renderPass; }
    std::string deviceName() const { return m_deviceName; }
    int width() const { return m_width; }
    int height() const { return m_height; }

    // Starts a one-shot command buffer (outside any render pass).
    VkCommandBuffer begin();
    void beginRenderPass(VkCommandBuffer cmd, float r, float g, float b);
    // Ends the render pass, copies the image out, submits, waits; returns RGBA8 [height, width, 4].
    std::vector<uint8_t> finish(VkCommandBuffer cmd);

private:
    VkInstance m_instance = VK_NULL_HANDLE;
    VkPhysicalDevice m_physicalDevice = VK_NULL_HANDLE;
    VkDevice m_device = VK_NULL_HANDLE;
    VkQueue m_queue = VK_NULL_HANDLE;
    uint32_t m_queueFamily = 0;
    VkRenderPass m_renderPass = VK_NULL_HANDLE;
    VkImage m_image = VK_NULL_HANDLE;
    VkDeviceMemory m_imageMemory = VK_NULL_HANDLE;
    VkImageView m_view = VK_NULL_HANDLE;
    VkFramebuffer m_framebuffer = VK_NULL_HANDLE;
    VkBuffer m_readback = VK_NULL_HANDLE;
    VkDeviceMemory m_readbackMemory = VK_NULL_HANDLE;
    VkCommandPool m_commandPool = VK_NULL_HANDLE;
    std::string m_deviceName;
    int m_width = 0, m_height = 0;
};

}  // namespace attnscope::views
