// Plain Vulkan setup for offscreen rendering: instance without surface extensions, the first
// device with a graphics queue, one RGBA8 color attachment that ends in TRANSFER_SRC layout.
#include "headless-vulkan-target.h"

#include <cstring>

namespace attnscope::views {

namespace {
uint32_t findMemoryType(VkPhysicalDevice physicalDevice, uint32_t bits, VkMemoryPropertyFlags wanted) {
    VkPhysicalDeviceMemoryProperties props;
    vkGetPhysicalDeviceMemoryProperties(physicalDevice, &props);
    for (uint32_t i = 0; i < props.memoryTypeCount; ++i)
        if ((bits & (1u << i)) && (props.memoryTypes[i].propertyFlags & wanted) == wanted) return i;
    return 0;
}
}  // namespace

HeadlessVulkanTarget::~HeadlessVulkanTarget() {
    if (m_device) {
        vkDeviceWaitIdle(m_device);
        if (m_commandPool) vkDestroyCommandPool(m_device, m_commandPool, nullptr);
        if (m_readback) vkDestroyBuffer(m_device, m_readback, nullptr);
        if (m_readbackMemory) vkFreeMemory(m_device, m_readbackMemory, nullptr);
        if (m_framebuffer) vkDestroyFramebuffer(m_device, m_framebuffer, nullptr);
        if (m_view) vkDestroyImageView(m_device, m_view, nullptr);
        if (m_image) vkDestroyImage(m_device, m_image, nullptr);
        if (m_imageMemory) vkFreeMemory(m_device, m_imageMemory, nullptr);
        if (m_renderPass) vkDestroyRenderPass(m_device, m_renderPass, nullptr);
        vkDestroyDevice(m_device, nullptr);
    }
    if (m_instance) vkDestroyInstance(m_instance, nullptr);
}

bool HeadlessVulkanTarget::create(int width, int height, std::string* error) {
    m_width = width;
    m_height = height;
    auto fail = [&](const std::string& what, VkResult r) {
        if (error) *error = what + " (VkResult " + std::to_string(static_cast<int>(r)) + ")";
        return false;
    };
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "attnscope-headless";
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo instanceInfo{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    instanceInfo.pApplicationInfo = &app;
    VkResult r = vkCreateInstance(&instanceInfo, nullptr, &m_instance);
    if (r != VK_SUCCESS) return fail("no Vulkan driver: vkCreateInstance failed", r);

    uint32_t count = 0;
    vkEnumeratePhysicalDevices(m_instance, &count, nullptr);
    std::vector<VkPhysicalDevice> devices(count);
    vkEnumeratePhysicalDevices(m_instance, &count, devices.data());
    for (VkPhysicalDevice d : devices) {
        uint32_t families = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(d, &families, nullptr);
        std::vector<VkQueueFamilyProperties> props(families);
        vkGetPhysicalDeviceQueueFamilyProperties(d, &families, props.data());
        for (uint32_t f = 0; f < families; ++f) {
            if (props[f].queueFlags & VK_QUEUE_GRAPHICS_BIT) {
                m_physicalDevice = d;
                m_queueFamily = f;
                break;
            }
        }
        if (m_physicalDevice) break;
    }
    if (!m_physicalDevice) return fail("no Vulkan device with a graphics queue", VK_ERROR_INITIALIZATION_FAILED);
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(m_physicalDevice, &props);
    m_deviceName = props.deviceName;

    const float priority = 1.0f;
    VkDeviceQueueCreateInfo queueInfo{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    queueInfo.queueFamilyIndex = m_queueFamily;
    queueInfo.queueCount = 1;
    queueInfo.pQueuePriorities = &priority;
    VkDeviceCreateInfo deviceInfo{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    deviceInfo.queueCreateInfoCount = 1;
    deviceInfo.pQueueCreateInfos = &queueInfo;
    r = vkCreateDevice(m_physicalDevice, &deviceInfo, nullptr, &m_device);
    if (r != VK_SUCCESS) return fail("vkCreateDevice failed", r);
    vkGetDeviceQueue(m_device, m_queueFamily, 0, &m_queue);

    const VkFormat format = VK_FORMAT_R8G8B8A8_UNORM;
    VkAttachmentDescription attachment{};
    attachment.format = format;
    attachment.samples = VK_SAMPLE_COUNT_1_BIT;
    attachment.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
    attachment.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
    attachment.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
    attachment.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
    attachment.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    attachment.finalLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    VkAttachmentReference colorRef{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
    VkSubpassDescription subpass{};
    subpass.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
    subpass.colorAttachmentCount = 1;
    subpass.pColorAttachments = &colorRef;
    VkSubpassDependency dependency{};
    dependency.srcSubpass = 0;
    dependency.dstSubpass = VK_SUBPASS_EXTERNAL;
    dependency.srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    dependency.dstStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT;
    dependency.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    dependency.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    VkRenderPassCreateInfo passInfo{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
    passInfo.attachmentCount = 1;
    passInfo.pAttachments = &attachment;
    passInfo.subpassCount = 1;
    passInfo.pSubpasses = &subpass;
    passInfo.dependencyCount = 1;
    passInfo.pDependencies = &dependency;
    r = vkCreateRenderPass(m_device, &passInfo, nullptr, &m_renderPass);
    if (r != VK_SUCCESS) return fail("vkCreateRenderPass failed", r);

    VkImageCreateInfo imageInfo{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
    imageInfo.imageType = VK_IMAGE_TYPE_2D;
    imageInfo.format = format;
    imageInfo.extent = {static_cast<uint32_t>(width), static_cast<uint32_t>(height), 1};
    imageInfo.mipLevels = 1;
    imageInfo.arrayLayers = 1;
    imageInfo.samples = VK_SAMPLE_COUNT_1_BIT;
    imageInfo.tiling = VK_IMAGE_TILING_OPTIMAL;
    imageInfo.usage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    r = vkCreateImage(m_device, &imageInfo, nullptr, &m_image);
    if (r != VK_SUCCESS) return fail("vkCreateImage failed", r);
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(m_device, m_image, &req);
    VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    alloc.allocationSize = req.size;
    alloc.memoryTypeIndex = findMemoryType(m_physicalDevice, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    vkAllocateMemory(m_device, &alloc, nullptr, &m_imageMemory);
    vkBindImageMemory(m_device, m_image, m_imageMemory, 0);
    VkImageViewCreateInfo viewInfo{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
    viewInfo.image = m_image;
    viewInfo.viewType = VK_IMAGE_VIEW_TYPE_2D;
    viewInfo.format = format;
    viewInfo.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    vkCreateImageView(m_device, &viewInfo, nullptr, &m_view);
    VkFramebufferCreateInfo fbInfo{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
    fbInfo.renderPass = m_renderPass;
    fbInfo.attachmentCount = 1;
    fbInfo.pAttachments = &m_view;
    fbInfo.width = width;
    fbInfo.height = height;
    fbInfo.layers = 1;
    r = vkCreateFramebuffer(m_device, &fbInfo, nullptr, &m_framebuffer);
    if (r != VK_SUCCESS) return fail("vkCreateFramebuffer failed", r);

    VkBufferCreateInfo bufferInfo{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bufferInfo.size = static_cast<VkDeviceSize>(width) * height * 4;
    bufferInfo.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    vkCreateBuffer(m_device, &bufferInfo, nullptr, &m_readback);
    vkGetBufferMemoryRequirements(m_device, m_readback, &req);
    alloc.allocationSize = req.size;
    alloc.memoryTypeIndex = findMemoryType(m_physicalDevice, req.memoryTypeBits,
                                           VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    vkAllocateMemory(m_device, &alloc, nullptr, &m_readbackMemory);
    vkBindBufferMemory(m_device, m_readback, m_readbackMemory, 0);

    VkCommandPoolCreateInfo poolInfo{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    poolInfo.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    poolInfo.queueFamilyIndex = m_queueFamily;
    r = vkCreateCommandPool(m_device, &poolInfo, nullptr, &m_commandPool);
    if (r != VK_SUCCESS) return fail("vkCreateCommandPool failed", r);
    return true;
}

VkCommandBuffer HeadlessVulkanTarget::begin() {
    VkCommandBufferAllocateInfo allocInfo{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    allocInfo.commandPool = m_commandPool;
    allocInfo.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    allocInfo.commandBufferCount = 1;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    vkAllocateCommandBuffers(m_device, &allocInfo, &cmd);
    VkCommandBufferBeginInfo beginInfo{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    beginInfo.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vkBeginCommandBuffer(cmd, &beginInfo);
    return cmd;
}

void HeadlessVulkanTarget::beginRenderPass(VkCommandBuffer cmd, float r, float g, float b) {
    VkClearValue clear{};
    clear.color = {{r, g, b, 1.0f}};
    VkRenderPassBeginInfo info{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    info.renderPass = m_renderPass;
    info.framebuffer = m_framebuffer;
    info.renderArea.extent = {static_cast<uint32_t>(m_width), static_cast<uint32_t>(m_height)};
    info.clearValueCount = 1;
    info.pClearValues = &clear;
    vkCmdBeginRenderPass(cmd, &info, VK_SUBPASS_CONTENTS_INLINE);
}

std::vector<uint8_t> HeadlessVulkanTarget::finish(VkCommandBuffer cmd) {
    vkCmdEndRenderPass(cmd);
    VkBufferImageCopy copy{};
    copy.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    copy.imageExtent = {static_cast<uint32_t>(m_width), static_cast<uint32_t>(m_height), 1};
    vkCmdCopyImageToBuffer(cmd, m_image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, m_readback, 1, &copy);
    vkEndCommandBuffer(cmd);
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &cmd;
    vkQueueSubmit(m_queue, 1, &submit, VK_NULL_HANDLE);
    vkQueueWaitIdle(m_queue);
    vkFreeCommandBuffers(m_device, m_commandPool, 1, &cmd);
    std::vector<uint8_t> pixels(static_cast<size_t>(m_width) * m_height * 4);
    void* mapped = nullptr;
    vkMapMemory(m_device, m_readbackMemory, 0, pixels.size(), 0, &mapped);
    std::memcpy(pixels.data(), mapped, pixels.size());
    vkUnmapMemory(m_device, m_readbackMemory);
    return pixels;
}

}  // namespace attnscope::views
