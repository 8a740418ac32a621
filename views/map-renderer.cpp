// Vulkan pipeline, textures and draw calls of the map. One pipeline (quad from gl_VertexIndex,
// alpha blending for the mask overlay), one descriptor set per texture (values + colormap LUT).
#include "map-renderer.h"

#include <algorithm>
#include <cstring>

#include "colormap-lut.h"

namespace attnscope::views {

namespace {

const uint32_t kVertexSpirv[] = {
#include "map-vert-spv.inc"
};
const uint32_t kFragmentSpirv[] = {
#include "map-frag-spv.inc"
};

struct PushConstants {
    float rect[4];
    float scale[4];
    float flags[4];
};

VkShaderModule createShader(VkDevice device, const uint32_t* code, size_t bytes) {
    VkShaderModuleCreateInfo info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    info.codeSize = bytes;
    info.pCode = code;
    VkShaderModule module = VK_NULL_HANDLE;
    vkCreateShaderModule(device, &info, nullptr, &module);
    return module;
}

}  // namespace

MapRenderer::~MapRenderer() { shutdown(); }

uint32_t MapRenderer::memoryType(uint32_t typeBits, VkMemoryPropertyFlags wanted) const {
    VkPhysicalDeviceMemoryProperties props;
    vkGetPhysicalDeviceMemoryProperties(m_physicalDevice, &props);
    for (uint32_t i = 0; i < props.memoryTypeCount; ++i)
        if ((typeBits & (1u << i)) && (props.memoryTypes[i].propertyFlags & wanted) == wanted) return i;
    for (uint32_t i = 0; i < props.memoryTypeCount; ++i)
        if (typeBits & (1u << i)) return i;
    return 0;
}

bool MapRenderer::initialize(VkPhysicalDevice physicalDevice, VkDevice device, VkRenderPass renderPass,
                             VkSampleCountFlagBits samples, std::string* error) {
    m_physicalDevice = physicalDevice;
    m_device = device;
    auto fail = [&](const char* what) {
        if (error) *error = std::string("map renderer: ") + what;
        shutdown();
        return false;
    };

    VkDescriptorSetLayoutBinding bindings[2]{};
    for (int i = 0; i < 2; ++i) {
        bindings[i].binding = i;
        bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
        bindings[i].descriptorCount = 1;
        bindings[i].stageFlags = VK_SHADER_STAGE_FRAGMENT_BIT;
    }
    VkDescriptorSetLayoutCreateInfo setInfo{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    setInfo.bindingCount = 2;
    setInfo.pBindings = bindings;
    if (vkCreateDescriptorSetLayout(device, &setInfo, nullptr, &m_setLayout) != VK_SUCCESS)
        return fail("cannot create descriptor set layout");

    VkPushConstantRange push{VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_FRAGMENT_BIT, 0, sizeof(PushConstants)};
    VkPipelineLayoutCreateInfo layoutInfo{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    layoutInfo.setLayoutCount = 1;
    layoutInfo.pSetLayouts = &m_setLayout;
    layoutInfo.pushConstantRangeCount = 1;
    layoutInfo.pPushConstantRanges = &push;
    if (vkCreatePipelineLayout(device, &layoutInfo, nullptr, &m_pipelineLayout) != VK_SUCCESS)
        return fail("cannot create pipeline layout");

    VkShaderModule vert = createShader(device, kVertexSpirv, sizeof kVertexSpirv);
    VkShaderModule frag = createShader(device, kFragmentSpirv, sizeof kFragmentSpirv);
    if (!vert || !frag) return fail("cannot create shader modules");
    VkPipelineShaderStageCreateInfo stages[2]{};
    stages[0] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_VERTEX_BIT, vert,
                 "main", nullptr};
    stages[1] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_FRAGMENT_BIT, frag,
                 "main", nullptr};
    VkPipelineVertexInputStateCreateInfo vertexInput{VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO};
    VkPipelineInputAssemblyStateCreateInfo assembly{VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO};
    assembly.topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_STRIP;
    VkPipelineViewportStateCreateInfo viewport{VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO};
    viewport.viewportCount = 1;
    viewport.scissorCount = 1;
    VkPipelineRasterizationStateCreateInfo raster{VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO};
    raster.polygonMode = VK_POLYGON_MODE_FILL;
    raster.cullMode = VK_CULL_MODE_NONE;
    raster.frontFace = VK_FRONT_FACE_COUNTER_CLOCKWISE;
    raster.lineWidth = 1.0f;
    VkPipelineMultisampleStateCreateInfo multisample{VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO};
    multisample.rasterizationSamples = samples;
    VkPipelineDepthStencilStateCreateInfo depth{VK_STRUCTURE_TYPE_PIPELINE_DEPTH_STENCIL_STATE_CREATE_INFO};
    VkPipelineColorBlendAttachmentState blendAttachment{};
    blendAttachment.blendEnable = VK_TRUE;
    blendAttachment.srcColorBlendFactor = VK_BLEND_FACTOR_SRC_ALPHA;
    blendAttachment.dstColorBlendFactor = VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA;
    blendAttachment.colorBlendOp = VK_BLEND_OP_ADD;
    blendAttachment.srcAlphaBlendFactor = VK_BLEND_FACTOR_ONE;
    blendAttachment.dstAlphaBlendFactor = VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA;
    blendAttachment.alphaBlendOp = VK_BLEND_OP_ADD;
    blendAttachment.colorWriteMask = 0xF;
    VkPipelineColorBlendStateCreateInfo blend{VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO};
    blend.attachmentCount = 1;
    blend.pAttachments = &blendAttachment;
    VkDynamicState dynamicStates[] = {VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR};
    VkPipelineDynamicStateCreateInfo dynamic{VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO};
    dynamic.dynamicStateCount = 2;
    dynamic.pDynamicStates = dynamicStates;
    VkGraphicsPipelineCreateInfo pipelineInfo{VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO};
    pipelineInfo.stageCount = 2;
    pipelineInfo.pStages = stages;
    pipelineInfo.pVertexInputState = &vertexInput;
    pipelineInfo.pInputAssemblyState = &assembly;
    pipelineInfo.pViewportState = &viewport;
    pipelineInfo.pRasterizationState = &raster;
    pipelineInfo.pMultisampleState = &multisample;
    pipelineInfo.pDepthStencilState = &depth;
    pipelineInfo.pColorBlendState = &blend;
    pipelineInfo.pDynamicState = &dynamic;
    pipelineInfo.layout = m_pipelineLayout;
    pipelineInfo.renderPass = renderPass;
    const VkResult pipelineResult =
        vkCreateGraphicsPipelines(device, VK_NULL_HANDLE, 1, &pipelineInfo, nullptr, &m_pipeline);
    vkDestroyShaderModule(device, vert, nullptr);
    vkDestroyShaderModule(device, frag, nullptr);
    if (pipelineResult != VK_SUCCESS) return fail("cannot create graphics pipeline");

    VkSamplerCreateInfo samplerInfo{VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO};
    samplerInfo.magFilter = samplerInfo.minFilter = VK_FILTER_NEAREST;
    samplerInfo.mipmapMode = VK_SAMPLER_MIPMAP_MODE_NEAREST;
    samplerInfo.addressModeU = samplerInfo.addressModeV = samplerInfo.addressModeW = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
    samplerInfo.maxLod = 0.0f;
    if (vkCreateSampler(device, &samplerInfo, nullptr, &m_sampler) != VK_SUCCESS) return fail("cannot create sampler");

    constexpr uint32_t kMaxTextures = 2048;
    VkDescriptorPoolSize poolSize{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 2 * kMaxTextures};
    VkDescriptorPoolCreateInfo poolInfo{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    poolInfo.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
    poolInfo.maxSets = kMaxTextures;
    poolInfo.poolSizeCount = 1;
    poolInfo.pPoolSizes = &poolSize;
    if (vkCreateDescriptorPool(device, &poolInfo, nullptr, &m_pool) != VK_SUCCESS)
        return fail("cannot create descriptor pool");

    const std::vector<uint8_t> lut = buildColormapLut();
    if (!createTextureResources(m_lut, kColormapLutWidth, kColormapLutRows, VK_FORMAT_R8G8B8A8_UNORM, lut.data(),
                                lut.size()))
        return fail("cannot create the colormap texture");
    return true;
}

bool MapRenderer::createTextureResources(Texture& t, int width, int height, VkFormat format, const void* data,
                                         size_t bytes) {
    t.width = width;
    t.height = height;
    VkImageCreateInfo imageInfo{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
    imageInfo.imageType = VK_IMAGE_TYPE_2D;
    imageInfo.format = format;
    imageInfo.extent = {static_cast<uint32_t>(width), static_cast<uint32_t>(height), 1};
    imageInfo.mipLevels = 1;
    imageInfo.arrayLayers = 1;
    imageInfo.samples = VK_SAMPLE_COUNT_1_BIT;
    imageInfo.tiling = VK_IMAGE_TILING_OPTIMAL;
    imageInfo.usage = VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT;
    imageInfo.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    if (vkCreateImage(m_device, &imageInfo, nullptr, &t.image) != VK_SUCCESS) return false;
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(m_device, t.image, &req);
    VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    alloc.allocationSize = req.size;
    alloc.memoryTypeIndex = memoryType(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (vkAllocateMemory(m_device, &alloc, nullptr, &t.memory) != VK_SUCCESS) return false;
    vkBindImageMemory(m_device, t.image, t.memory, 0);

    VkImageViewCreateInfo viewInfo{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
    viewInfo.image = t.image;
    viewInfo.viewType = VK_IMAGE_VIEW_TYPE_2D;
    viewInfo.format = format;
    viewInfo.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    if (vkCreateImageView(m_device, &viewInfo, nullptr, &t.view) != VK_SUCCESS) return false;

    VkBufferCreateInfo bufferInfo{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bufferInfo.size = bytes;
    bufferInfo.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT;
    if (vkCreateBuffer(m_device, &bufferInfo, nullptr, &t.staging) != VK_SUCCESS) return false;
    vkGetBufferMemoryRequirements(m_device, t.staging, &req);
    alloc.allocationSize = req.size;
    alloc.memoryTypeIndex =
        memoryType(req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    if (vkAllocateMemory(m_device, &alloc, nullptr, &t.stagingMemory) != VK_SUCCESS) return false;
    vkBindBufferMemory(m_device, t.staging, t.stagingMemory, 0);
    void* mapped = nullptr;
    if (vkMapMemory(m_device, t.stagingMemory, 0, bytes, 0, &mapped) != VK_SUCCESS) return false;
    std::memcpy(mapped, data, bytes);
    vkUnmapMemory(m_device, t.stagingMemory);
    return true;
}

void MapRenderer::destroyTexture(Texture& t) {
    if (!m_device) return;
    if (t.descriptors) vkFreeDescriptorSets(m_device, m_pool, 1, &t.descriptors);
    if (t.view) vkDestroyImageView(m_device, t.view, nullptr);
    if (t.image) vkDestroyImage(m_device, t.image, nullptr);
    if (t.memory) vkFreeMemory(m_device, t.memory, nullptr);
    if (t.staging) vkDestroyBuffer(m_device, t.staging, nullptr);
    if (t.stagingMemory) vkFreeMemory(m_device, t.stagingMemory, nullptr);
    t = Texture{};
}

uint64_t MapRenderer::createTexture(int width, int height, const float* values) {
    if (!m_device || width <= 0 || height <= 0) return 0;
    Texture t;
    if (!createTextureResources(t, width, height, VK_FORMAT_R32_SFLOAT, values,
                                static_cast<size_t>(width) * height * sizeof(float))) {
        destroyTexture(t);
        return 0;
    }
    VkDescriptorSetAllocateInfo allocInfo{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    allocInfo.descriptorPool = m_pool;
    allocInfo.descriptorSetCount = 1;
    allocInfo.pSetLayouts = &m_setLayout;
    if (vkAllocateDescriptorSets(m_device, &allocInfo, &t.descriptors) != VK_SUCCESS) {
        t.descriptors = VK_NULL_HANDLE;
        destroyTexture(t);
        return 0;
    }
    VkDescriptorImageInfo images[2] = {
        {m_sampler, t.view, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL},
        {m_sampler, m_lut.view, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL},
    };
    VkWriteDescriptorSet writes[2]{};
    for (int i = 0; i < 2; ++i) {
        writes[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
        writes[i].dstSet = t.descriptors;
        writes[i].dstBinding = i;
        writes[i].descriptorCount = 1;
        writes[i].descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
        writes[i].pImageInfo = &images[i];
    }
    vkUpdateDescriptorSets(m_device, 2, writes, 0, nullptr);
    const uint64_t id = m_nextId++;
    m_textures.emplace(id, t);
    m_pending.push_back(id);
    return id;
}

void MapRenderer::releaseTexture(uint64_t id) {
    auto it = m_textures.find(id);
    if (it == m_textures.end()) return;
    m_retired.push_back({it->second, m_frame});
    m_textures.erase(it);
    std::erase(m_pending, id);
}

void MapRenderer::recordUpload(VkCommandBuffer cmd, Texture& t) {
    VkImageMemoryBarrier barrier{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
    barrier.srcQueueFamilyIndex = barrier.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    barrier.image = t.image;
    barrier.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    barrier.oldLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    barrier.newLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
    barrier.dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0,
                         nullptr, 1, &barrier);
    VkBufferImageCopy copy{};
    copy.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    copy.imageExtent = {static_cast<uint32_t>(t.width), static_cast<uint32_t>(t.height), 1};
    vkCmdCopyBufferToImage(cmd, t.staging, t.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &copy);
    barrier.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
    barrier.newLayout = VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL;
    barrier.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, 0, 0, nullptr, 0,
                         nullptr, 1, &barrier);
    t.uploaded = true;
}

void MapRenderer::recordUploads(VkCommandBuffer cmd) {
    ++m_frame;
    // A retired texture may still be read by a frame in flight; free it once those have finished.
    const uint64_t safeFrames = static_cast<uint64_t>(m_framesInFlight) + 1;
    for (auto it = m_retired.begin(); it != m_retired.end();) {
        if (it->frame + safeFrames <= m_frame) {
            destroyTexture(it->texture);
            it = m_retired.erase(it);
        } else {
            ++it;
        }
    }
    if (!m_lut.uploaded) recordUpload(cmd, m_lut);
    for (uint64_t id : m_pending) {
        auto it = m_textures.find(id);
        if (it != m_textures.end()) recordUpload(cmd, it->second);
    }
    // Staging memory is kept until the texture is destroyed: freeing it here would need another
    // frame-delayed list, and tiles are small (256 KiB).
    m_pending.clear();
}

void MapRenderer::draw(VkCommandBuffer cmd, uint32_t framebufferWidth, uint32_t framebufferHeight,
                       const std::vector<MapDrawItem>& items) {
    if (!m_pipeline || !m_lut.uploaded) return;
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, m_pipeline);
    VkViewport viewport{0, 0, static_cast<float>(framebufferWidth), static_cast<float>(framebufferHeight), 0, 1};
    vkCmdSetViewport(cmd, 0, 1, &viewport);
    for (const MapDrawItem& item : items) {
        auto it = m_textures.find(item.texture);
        if (it == m_textures.end() || !it->second.uploaded) continue;
        if (item.scissor.extent.width == 0 || item.scissor.extent.height == 0) continue;
        vkCmdSetScissor(cmd, 0, 1, &item.scissor);
        vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, m_pipelineLayout, 0, 1, &it->second.descriptors, 0,
                                nullptr);
        const MapColorParams& c = item.color;
        PushConstants pc{{item.x0, item.y0, item.x1, item.y1},
                         {c.maxValue, c.decades, static_cast<float>(c.colormap), item.maskOverlay ? 1.0f : 0.0f},
                         {c.logarithmic ? 1.0f : 0.0f, c.signedValues ? 1.0f : 0.0f,
                          static_cast<float>(framebufferWidth), static_cast<float>(framebufferHeight)}};
        vkCmdPushConstants(cmd, m_pipelineLayout, VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_FRAGMENT_BIT, 0,
                           sizeof pc, &pc);
        vkCmdDraw(cmd, 4, 1, 0, 0);
    }
}

void MapRenderer::shutdown() {
    if (!m_device) return;
    for (auto& [id, t] : m_textures) destroyTexture(t);
    m_textures.clear();
    for (auto& r : m_retired) destroyTexture(r.texture);
    m_retired.clear();
    m_pending.clear();
    destroyTexture(m_lut);
    if (m_pool) vkDestroyDescriptorPool(m_device, m_pool, nullptr);
    if (m_sampler) vkDestroySampler(m_device, m_sampler, nullptr);
    if (m_pipeline) vkDestroyPipeline(m_device, m_pipeline, nullptr);
    if (m_pipelineLayout) vkDestroyPipelineLayout(m_device, m_pipelineLayout, nullptr);
    if (m_setLayout) vkDestroyDescriptorSetLayout(m_device, m_setLayout, nullptr);
    m_pool = VK_NULL_HANDLE;
    m_sampler = VK_NULL_HANDLE;
    m_pipeline = VK_NULL_HANDLE;
    m_pipelineLayout = VK_NULL_HANDLE;
    m_setLayout = VK_NULL_HANDLE;
    m_device = VK_NULL_HANDLE;
}

}  // namespace attnscope::views
