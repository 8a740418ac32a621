// Map view implementation: layout, input, tile requests, GPU residency of cached tiles, and the
// per-frame command recording (map quads, then ImGui) through MapWindowRenderer.
#include "map-window.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QVulkanFunctions>
#include <QWheelEvent>
#include <backends/imgui_impl_vulkan.h>
#include <imgui.h>

#include <algorithm>
#include <cmath>

#include "imgui-qt-input.h"
#include "pyramid-base.h"
#include "token-labels.h"

namespace attnscope::views {

namespace {
constexpr float kLeft = 104, kTop = 100, kRight = 96, kBottom = 14, kGap = 14;
constexpr size_t kMaxResidentTextures = 768;
constexpr int kUploadsPerFrame = 24;

}  // namespace

const char* mapModeName(MapMode mode) {
    switch (mode) {
        case MapMode::Dense: return "dense weights";
        case MapMode::VariantWeight: return "variant weights";
        case MapMode::MaskOverlay: return "dense + mask overlay";
        case MapMode::Difference: return "difference (variant - dense)";
        case MapMode::DroppedMass: return "dropped mass";
    }
    return "";
}

// [SECTION] Renderer: Vulkan resources tied to the window's device and render pass.
class MapWindowRenderer : public QVulkanWindowRenderer {
public:
    explicit MapWindowRenderer(MapWindow* window) : m_window(window) {}

    void initResources() override {
        std::string error;
        if (!m_map.initialize(m_window->physicalDevice(), m_window->device(), m_window->defaultRenderPass(),
                              m_window->sampleCountFlagBits(), &error)) {
            qWarning("%s", error.c_str());
            return;
        }
        m_map.setFramesInFlight(m_window->concurrentFrameCount());
        VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 16};
        VkDescriptorPoolCreateInfo poolInfo{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
        poolInfo.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
        poolInfo.maxSets = 16;
        poolInfo.poolSizeCount = 1;
        poolInfo.pPoolSizes = &size;
        df()->vkCreateDescriptorPool(m_window->device(), &poolInfo, nullptr, &m_imguiPool);

        ImGui::SetCurrentContext(m_window->m_imgui);
        ImGui_ImplVulkan_InitInfo info{};
        info.Instance = m_window->vulkanInstance()->vkInstance();
        info.PhysicalDevice = m_window->physicalDevice();
        info.Device = m_window->device();
        info.QueueFamily = m_window->graphicsQueueFamilyIndex();
        info.Queue = m_window->graphicsQueue();
        info.DescriptorPool = m_imguiPool;
        info.MinImageCount = 2;
        info.ImageCount = QVulkanWindow::MAX_CONCURRENT_FRAME_COUNT;
        info.MSAASamples = m_window->sampleCountFlagBits();
        ImGui_ImplVulkan_Init(&info, m_window->defaultRenderPass());

        // Fonts: one-shot upload on the graphics queue.
        VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        alloc.commandPool = m_window->graphicsCommandPool();
        alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        alloc.commandBufferCount = 1;
        VkCommandBuffer cmd = VK_NULL_HANDLE;
        df()->vkAllocateCommandBuffers(m_window->device(), &alloc, &cmd);
        VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
        df()->vkBeginCommandBuffer(cmd, &begin);
        ImGui_ImplVulkan_CreateFontsTexture(cmd);
        df()->vkEndCommandBuffer(cmd);
        VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
        submit.commandBufferCount = 1;
        submit.pCommandBuffers = &cmd;
        df()->vkQueueSubmit(m_window->graphicsQueue(), 1, &submit, VK_NULL_HANDLE);
        df()->vkQueueWaitIdle(m_window->graphicsQueue());
        df()->vkFreeCommandBuffers(m_window->device(), m_window->graphicsCommandPool(), 1, &cmd);
        ImGui_ImplVulkan_DestroyFontUploadObjects();
        m_imguiReady = true;

        VkPhysicalDeviceProperties props;
        m_window->vulkanInstance()->functions()->vkGetPhysicalDeviceProperties(m_window->physicalDevice(), &props);
        m_window->rendererReady(&m_map, props.deviceName);
    }

    void releaseResources() override {
        df()->vkDeviceWaitIdle(m_window->device());
        m_window->rendererReleased();
        if (m_imguiReady) {
            ImGui::SetCurrentContext(m_window->m_imgui);
            ImGui_ImplVulkan_Shutdown();
            m_imguiReady = false;
        }
        if (m_imguiPool) df()->vkDestroyDescriptorPool(m_window->device(), m_imguiPool, nullptr);
        m_imguiPool = VK_NULL_HANDLE;
        m_map.shutdown();
    }

    void startNextFrame() override {
        const auto start = std::chrono::steady_clock::now();
        m_window->frameStarted();
        VkCommandBuffer cmd = m_window->currentCommandBuffer();
        const QSize fb = m_window->swapChainImageSize();
        const float scale = m_window->width() > 0 ? static_cast<float>(fb.width()) / m_window->width() : 1.0f;
        std::vector<MapDrawItem> items;
        if (m_map.initialized()) items = m_window->buildDrawItems(scale);
        m_map.recordUploads(cmd);

        ImGui::SetCurrentContext(m_window->m_imgui);
        ImGuiIO& io = ImGui::GetIO();
        io.DisplaySize = ImVec2(static_cast<float>(m_window->width()), static_cast<float>(m_window->height()));
        io.DisplayFramebufferScale = ImVec2(scale, scale);
        const auto now = std::chrono::steady_clock::now();
        io.DeltaTime = m_lastImGui.time_since_epoch().count() == 0
                           ? 1.0f / 60.0f
                           : std::max(1e-4f, std::chrono::duration<float>(now - m_lastImGui).count());
        m_lastImGui = now;
        if (m_imguiReady) {
            ImGui_ImplVulkan_NewFrame();
            ImGui::NewFrame();
            m_window->buildOverlay();
            ImGui::Render();
        }

        VkClearValue clear[2]{};
        clear[0].color = {{0.11f, 0.11f, 0.12f, 1.0f}};
        clear[1].depthStencil = {1.0f, 0};
        VkRenderPassBeginInfo pass{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
        pass.renderPass = m_window->defaultRenderPass();
        pass.framebuffer = m_window->currentFramebuffer();
        pass.renderArea.extent = {static_cast<uint32_t>(fb.width()), static_cast<uint32_t>(fb.height())};
        pass.clearValueCount = m_window->sampleCountFlagBits() > VK_SAMPLE_COUNT_1_BIT ? 3 : 2;
        VkClearValue clear3[3] = {clear[0], clear[1], clear[0]};
        pass.pClearValues = clear3;
        df()->vkCmdBeginRenderPass(cmd, &pass, VK_SUBPASS_CONTENTS_INLINE);
        m_map.draw(cmd, fb.width(), fb.height(), items);
        if (m_imguiReady) ImGui_ImplVulkan_RenderDrawData(ImGui::GetDrawData(), cmd);
        df()->vkCmdEndRenderPass(cmd);
        m_window->frameRecorded(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        m_window->frameReady();
    }

private:
    // Qt's Vulkan headers define VK_NO_PROTOTYPES here, so calls go through Qt's dispatch tables.
    QVulkanDeviceFunctions* df() const { return m_window->vulkanInstance()->deviceFunctions(m_window->device()); }

    MapWindow* m_window;
    MapRenderer m_map;
    VkDescriptorPool m_imguiPool = VK_NULL_HANDLE;
    bool m_imguiReady = false;
    std::chrono::steady_clock::time_point m_lastImGui{};
};

// [SECTION] Window
MapWindow::MapWindow(ComputeSession* session) : m_session(session) {
    // ImGui's colors assume UNORM; lavapipe/xcb would pick SRGB (STACK.md §3).
    setPreferredColorFormats({VK_FORMAT_B8G8R8A8_UNORM});
    IMGUI_CHECKVERSION();
    ImGuiContext* previous = ImGui::GetCurrentContext();
    m_imgui = ImGui::CreateContext();
    ImGui::SetCurrentContext(m_imgui);
    ImGui::GetIO().IniFilename = nullptr;  // window layout persists through QSettings, not imgui.ini
    ImGui::StyleColorsDark();
    setupImGuiKeyMap();
    ImGui::SetCurrentContext(previous ? previous : m_imgui);
    connect(session, &ComputeSession::tileReady, this, &MapWindow::UI_onTileReady);
    connect(session, &ComputeSession::hoverReady, this, &MapWindow::UI_onHoverReady);
}

MapWindow::~MapWindow() {
    ImGui::DestroyContext(m_imgui);
}

QVulkanWindowRenderer* MapWindow::createRenderer() { return new MapWindowRenderer(this); }

void MapWindow::rendererReady(MapRenderer* renderer, std::string device) {
    m_renderer = renderer;
    m_deviceName = std::move(device);
}

void MapWindow::rendererReleased() {
    m_renderer = nullptr;
    m_resident.clear();
    m_residentOrder.clear();
    m_baseMeanTexture = m_baseMaxTexture = 0;
}

void MapWindow::UI_setCapture(std::shared_ptr<const CaptureSummary> capture) {
    m_capture = std::move(capture);
    m_tokens = m_capture ? m_capture->info.tokens.text : std::vector<std::string>{};
    m_head.reset();
    m_hover.reset();
    m_cache.clear();
    requestUpdate();
}

void MapWindow::UI_setHead(std::shared_ptr<const HeadSnapshot> head) {
    const bool sameLength = m_head && head && m_head->seqLen == head->seqLen;
    m_head = std::move(head);
    m_hover.reset();
    if (m_renderer) {
        m_renderer->releaseTexture(m_baseMeanTexture);
        m_renderer->releaseTexture(m_baseMaxTexture);
    }
    m_baseMeanTexture = m_baseMaxTexture = 0;
    m_baseMeanMax = m_baseMaxMax = 0.0f;
    for (float v : m_head->baseMean)
        if (std::isfinite(v)) m_baseMeanMax = std::max(m_baseMeanMax, v);
    for (float v : m_head->baseMax)
        if (std::isfinite(v)) m_baseMaxMax = std::max(m_baseMaxMax, v);
    updatePaneGeometry();
    // Same length: keep the zoom, so heads can be compared at the same place.
    if (!sameLength) {
        m_viewport.setSeqLen(m_head->seqLen);
        m_viewport.fit();
    }
    viewMoved();
}

void MapWindow::UI_setDisplay(const MapDisplay& display) {
    const bool splitChanged = display.split != m_display.split;
    m_display = display;
    if (splitChanged) updatePaneGeometry();
    viewMoved();
}

void MapWindow::UI_setVariant(const VariantSelection& variant, const std::string& displayName) {
    m_variant = variant;
    m_variantName = displayName;
    m_hover.reset();
    viewMoved();
}

void MapWindow::UI_fit() {
    m_viewport.fit();
    viewMoved();
}

void MapWindow::UI_zoomAtCenter(double factor) {
    m_viewport.zoomAt(m_viewport.paneWidth() * 0.5, m_viewport.paneHeight() * 0.5, factor);
    viewMoved();
}

void MapWindow::UI_pan(double dx, double dy) {
    m_viewport.panBy(dx, dy);
    viewMoved();
}

void MapWindow::UI_zoomToCells(double centerQuery, double centerKey, double cellsPerPixel) {
    m_viewport.setView(centerKey, centerQuery, cellsPerPixel);
    viewMoved();
}

void MapWindow::UI_setHudVisible(bool visible) {
    m_hudVisible = visible;
    requestUpdate();
}

void MapWindow::viewMoved() {
    UI_requestMissingTiles();
    requestUpdate();
    emit viewChanged();
}

// [SECTION] Layout
MapLayout MapWindow::layout() const {
    MapLayout l;
    const float w = static_cast<float>(width()), h = static_cast<float>(height());
    const float paneH = std::max(1.0f, h - kTop - kBottom);
    const float total = std::max(1.0f, w - kLeft - kRight);
    const int n = paneCount();
    const float paneW = n == 2 ? std::max(1.0f, (total - kGap) / 2) : total;
    // Cells stay square (one cells-per-pixel for both axes); fit() sizes the map to the shorter side.
    for (int i = 0; i < n; ++i) l.panes.push_back({kLeft + i * (paneW + kGap), kTop, paneW, paneH});
    const PixelRect& last = l.panes.back();
    l.colorbar = {last.right() + 18, kTop, 16, paneH};
    l.queryLabels = {0, kTop, kLeft - 2, paneH};
    l.keyLabels = {kLeft, 0, paneW, kTop - 2};
    return l;
}

void MapWindow::updatePaneGeometry() {
    const MapLayout l = layout();
    m_viewport.setPaneSize(l.panes[0].w, l.panes[0].h);
}

void MapWindow::resizeEvent(QResizeEvent* event) {
    QVulkanWindow::resizeEvent(event);
    updatePaneGeometry();
    viewMoved();
}

int MapWindow::paneAt(double x, double y) const {
    const MapLayout l = layout();
    for (size_t i = 0; i < l.panes.size(); ++i)
        if (l.panes[i].contains(static_cast<float>(x), static_cast<float>(y))) return static_cast<int>(i);
    return -1;
}

MapMode MapWindow::paneMode(int pane) const {
    MapMode mode = m_display.mode;
    if (m_display.split) mode = pane == 0 ? MapMode::Dense : (mode == MapMode::Dense ? MapMode::VariantWeight : mode);
    if (m_variant.id.empty()) mode = MapMode::Dense;  // every other mode needs a variant
    return mode;
}

std::vector<MapWindow::PaneLayer> MapWindow::paneLayers(int pane) const {
    switch (paneMode(pane)) {
        case MapMode::Dense: return {{TileQuantity::DenseWeight, false}};
        case MapMode::VariantWeight: return {{TileQuantity::VariantWeight, false}};
        case MapMode::MaskOverlay: return {{TileQuantity::DenseWeight, false}, {TileQuantity::KeptFraction, true}};
        case MapMode::Difference: return {{TileQuantity::Difference, false}};
        case MapMode::DroppedMass: return {{TileQuantity::DroppedMass, false}};
    }
    return {};
}

TileKey MapWindow::keyFor(const PaneLayer& layer, const TileCoord& tile) const {
    TileKey key;
    key.layer = m_head ? m_head->layer : 0;
    key.head = m_head ? m_head->head : 0;
    key.quantity = layer.quantity;
    // The kept fraction is a mean by definition (the fraction of kept cells in the pixel).
    key.pooling = layer.quantity == TileQuantity::KeptFraction ? Pooling::Mean : m_display.pooling;
    key.variantHash = layer.quantity == TileQuantity::DenseWeight ? 0 : m_variant.hash();
    key.tile = tile;
    return key;
}

// [SECTION] Tiles
void MapWindow::UI_requestMissingTiles() {
    m_wanted.clear();
    if (!m_head) return;
    const int level = m_viewport.tileLevel();
    const int cut = pyramidCutLevel(m_head->baseCellsPerBlock);
    std::vector<TileJob> missing;
    for (int pane = 0; pane < paneCount(); ++pane) {
        for (const PaneLayer& layer : paneLayers(pane)) {
            // Dense texels of >= one statistics block are exact in the pyramid base.
            if (layer.quantity == TileQuantity::DenseWeight && level >= cut) continue;
            for (const TileCoord& t : m_viewport.visibleTiles(level)) {
                const TileKey key = keyFor(layer, t);
                if (std::find(m_wanted.begin(), m_wanted.end(), key) != m_wanted.end()) continue;
                m_wanted.push_back(key);
                if (!m_cache.contains(key)) missing.push_back({key, m_variant});
            }
        }
    }
    m_missing = missing.size();
    std::vector<TileKey> keys;
    for (const TileJob& j : missing) keys.push_back(j.key);
    if (keys != m_lastRequested) {
        m_lastRequested = keys;
        m_session->UI_requestTiles(std::move(missing));
    }
}

void MapWindow::UI_onTileReady(std::shared_ptr<const TileResult> result) {
    m_cache.insert(result->key, result->tile);
    m_lastRequested.erase(std::remove(m_lastRequested.begin(), m_lastRequested.end(), result->key),
                          m_lastRequested.end());
    if (std::find(m_wanted.begin(), m_wanted.end(), result->key) != m_wanted.end()) {
        m_missing = 0;
        for (const TileKey& k : m_wanted)
            if (!m_cache.contains(k)) ++m_missing;
        requestUpdate();
    }
}

void MapWindow::UI_onHoverReady(std::shared_ptr<const HoverResult> result) {
    if (!m_head || result->layer != m_head->layer || result->head != m_head->head) return;
    m_hover = std::move(result);
    requestUpdate();
}

bool MapWindow::complete() const {
    if (!m_head || !m_renderer) return false;
    if (m_baseMeanTexture == 0) return false;
    for (const TileKey& k : m_wanted)
        if (!m_cache.contains(k) || !m_resident.count(k)) return false;
    return true;
}

uint64_t MapWindow::residentTexture(const TileKey& key, const CachedTile& tile, int& uploadBudget) {
    auto it = m_resident.find(key);
    if (it != m_resident.end()) {
        m_residentOrder.splice(m_residentOrder.begin(), m_residentOrder, it->second.second);
        return it->second.first;
    }
    if (uploadBudget <= 0 || !m_renderer) return 0;
    --uploadBudget;
    const uint64_t id = m_renderer->createTexture(tile.tile.width, tile.tile.height, tile.tile.values.data());
    if (!id) return 0;
    m_residentOrder.push_front(key);
    m_resident[key] = {id, m_residentOrder.begin()};
    while (m_residentOrder.size() > kMaxResidentTextures) {
        auto old = m_resident.find(m_residentOrder.back());
        m_renderer->releaseTexture(old->second.first);
        m_resident.erase(old);
        m_residentOrder.pop_back();
    }
    return id;
}

MapColorParams MapWindow::paneColor(int pane) const {
    MapColorParams c;
    const MapMode mode = paneMode(pane);
    const bool signedValues = mode == MapMode::Difference;
    c.colormap = static_cast<int>(signedValues ? ColormapName::Diverging : m_display.colormap);
    c.logarithmic = m_display.logarithmic;
    c.signedValues = signedValues;
    c.decades = static_cast<float>(m_display.decades);
    float maxValue = 0.0f;
    if (m_head) {
        const PaneLayer primary = paneLayers(pane).front();
        const int level = m_viewport.tileLevel();
        if (primary.quantity == TileQuantity::DenseWeight && level >= pyramidCutLevel(m_head->baseCellsPerBlock)) {
            maxValue = m_display.pooling == Pooling::Max ? m_baseMaxMax : m_baseMeanMax;
        } else {
            // Fit to what is on screen, as `attnscope-cli render --region` fits to its tile.
            auto& cache = const_cast<TileCache&>(m_cache);
            for (const TileCoord& t : m_viewport.visibleTiles(level))
                if (auto tile = cache.find(keyFor(primary, t))) maxValue = std::max(maxValue, tile->maxFinite);
            if (maxValue <= 0.0f && primary.quantity == TileQuantity::DenseWeight)
                maxValue = m_display.pooling == Pooling::Max ? m_baseMaxMax : m_baseMeanMax;
        }
    }
    c.maxValue = maxValue > 0.0f ? maxValue : 1.0f;
    return c;
}

std::vector<MapDrawItem> MapWindow::buildDrawItems(float scale) {
    std::vector<MapDrawItem> items;
    if (!m_head || !m_renderer) return items;
    int budget = kUploadsPerFrame;
    if (!m_baseMeanTexture) {
        m_baseMeanTexture = m_renderer->createTexture(m_head->baseCols, m_head->baseRows, m_head->baseMean.data());
        m_baseMaxTexture = m_renderer->createTexture(m_head->baseCols, m_head->baseRows, m_head->baseMax.data());
    }
    const MapLayout l = layout();
    const int level = m_viewport.tileLevel();
    const int cut = pyramidCutLevel(m_head->baseCellsPerBlock);
    const double T = m_head->seqLen;
    for (int pane = 0; pane < paneCount(); ++pane) {
        const PixelRect& p = l.panes[pane];
        // Scissor: the pane intersected with the map itself (cells [0, T)).
        const double sx0 = std::max<double>(p.x, p.x + m_viewport.pixelX(0));
        const double sy0 = std::max<double>(p.y, p.y + m_viewport.pixelY(0));
        const double sx1 = std::min<double>(p.right(), p.x + m_viewport.pixelX(T));
        const double sy1 = std::min<double>(p.bottom(), p.y + m_viewport.pixelY(T));
        if (sx1 <= sx0 || sy1 <= sy0) continue;
        VkRect2D scissor;
        scissor.offset = {static_cast<int32_t>(std::floor(sx0 * scale)), static_cast<int32_t>(std::floor(sy0 * scale))};
        scissor.extent = {static_cast<uint32_t>(std::ceil(sx1 * scale)) - static_cast<uint32_t>(scissor.offset.x),
                          static_cast<uint32_t>(std::ceil(sy1 * scale)) - static_cast<uint32_t>(scissor.offset.y)};
        const MapColorParams color = paneColor(pane);
        auto quad = [&](uint64_t texture, double c0x, double c0y, double c1x, double c1y, bool overlay) {
            MapDrawItem item;
            item.texture = texture;
            item.x0 = static_cast<float>((p.x + m_viewport.pixelX(c0x)) * scale);
            item.y0 = static_cast<float>((p.y + m_viewport.pixelY(c0y)) * scale);
            item.x1 = static_cast<float>((p.x + m_viewport.pixelX(c1x)) * scale);
            item.y1 = static_cast<float>((p.y + m_viewport.pixelY(c1y)) * scale);
            item.scissor = scissor;
            item.maskOverlay = overlay;
            item.color = color;
            items.push_back(item);
        };
        for (const PaneLayer& layer : paneLayers(pane)) {
            const bool dense = layer.quantity == TileQuantity::DenseWeight;
            if (dense) {
                // The whole map at block resolution: instant after the statistics pass.
                const double extent = static_cast<double>(m_head->baseCellsPerBlock);
                quad(m_display.pooling == Pooling::Max ? m_baseMaxTexture : m_baseMeanTexture, 0, 0,
                     m_head->baseCols * extent, m_head->baseRows * extent, false);
                if (level >= cut) continue;
            }
            // Coarser cached levels first, stretched, then the wanted level on top: progressive refinement.
            for (int lv = std::min(level + 2, dense ? cut - 1 : level + 2); lv >= level; --lv) {
                for (const TileCoord& t : m_viewport.visibleTiles(lv)) {
                    const TileKey key = keyFor(layer, t);
                    auto tile = m_cache.find(key);
                    if (!tile) continue;
                    const uint64_t texture = residentTexture(key, *tile, budget);
                    if (!texture) continue;
                    const TileSpan s = tileSpan(t, m_head->seqLen);
                    quad(texture, s.keyBegin, s.queryBegin, s.keyEnd, s.queryEnd, layer.overlay);
                }
            }
        }
    }
    if (budget <= 0) requestUpdate();  // more uploads next frame
    return items;
}

// [SECTION] Overlay
void MapWindow::buildOverlay() {
    ImDrawList* list = ImGui::GetBackgroundDrawList();
    const MapLayout l = layout();
    const ImU32 text = IM_COL32(230, 230, 230, 255);
    if (!m_head) {
        list->AddText(ImVec2(kLeft, kTop), text, m_capture ? "Computing head statistics..." : "Open a capture (File > Open)");
        m_labelsDrawn = 0;
    } else {
        m_labelsDrawn = 0;
        for (int pane = 0; pane < paneCount(); ++pane) {
            const PixelRect& p = l.panes[pane];
            list->AddRect(ImVec2(p.x - 1, p.y - 1), ImVec2(p.right() + 1, p.bottom() + 1), IM_COL32(90, 90, 90, 255));
            m_labelsDrawn += drawTokenLabels(list, m_viewport, p, m_tokens, true, pane == 0);
            std::string title = "L" + std::to_string(m_head->layer) + " H" + std::to_string(m_head->head) + "  " +
                                mapModeName(paneMode(pane));
            if (paneMode(pane) != MapMode::Dense) title += "  [" + m_variantName + "]";
            list->AddText(ImVec2(p.x, 2), text, title.c_str());
        }
        const MapColorParams color = paneColor(paneCount() - 1);
        drawColorbar(list, l.colorbar, color, color.logarithmic ? "log" : "lin");
        if (m_viewport.pixelsPerCell() < kMinLabelCellPixels) {
            char hint[96];
            std::snprintf(hint, sizeof hint, "%d tokens; zoom in for labels", m_head->seqLen);
            list->AddText(ImVec2(4, 4 + ImGui::GetFontSize()), IM_COL32(160, 160, 160, 255), hint);
        }
    }
    if (m_hover && m_head && m_hover->query == m_hoverQuery && m_hover->key == m_hoverKey && !m_dragging)
        drawHoverReadout(*m_hover, m_tokens, m_variantName);
    if (m_hudVisible) {
        m_hud.level = m_viewport.tileLevel();
        m_hud.cellsPerPixel = m_viewport.cellsPerPixel();
        m_hud.tilesCached = m_cache.size();
        m_hud.tilesWanted = m_wanted.size();
        m_hud.tilesMissing = m_missing;
        m_hud.textures = m_renderer ? m_renderer->textureCount() : 0;
        m_hud.backend = m_session->backendName().toStdString();
        m_hud.device = m_deviceName;
        bool open = true;
        drawHud(m_hud, &open);
        if (!open) m_hudVisible = false;
    }
}

void MapWindow::frameStarted() {
    const auto now = std::chrono::steady_clock::now();
    if (m_lastFrame.time_since_epoch().count() != 0) {
        const double ms = std::chrono::duration<double, std::milli>(now - m_lastFrame).count();
        // Longer gaps are idle time (rendering is on demand: nothing asked for a frame), not frame time.
        if (ms < 250.0) {
            m_frameIntervals.push_back(ms);
            if (m_frameIntervals.size() > 120) m_frameIntervals.pop_front();
        }
    }
    m_lastFrame = now;
    if (!m_frameIntervals.empty()) {
        double sum = 0, worst = 0;
        for (double v : m_frameIntervals) {
            sum += v;
            worst = std::max(worst, v);
        }
        m_hud.frameMs = sum / m_frameIntervals.size();
        m_hud.frameMsMax = worst;
    }
}

void MapWindow::frameRecorded(double recordMs) { m_hud.recordMs = recordMs; }

TileJob MapWindow::exportJob() const {
    TileJob job;
    if (!paneLayers(0).empty()) job.key = keyFor(paneLayers(0).front(), {});
    job.variant = m_variant;
    return job;
}

// [SECTION] Input
void MapWindow::mousePressEvent(QMouseEvent* event) {
    ImGui::SetCurrentContext(m_imgui);
    forwardMouseButton(event, true);
    if (event->button() == Qt::LeftButton && !ImGui::GetIO().WantCaptureMouse) {
        m_dragging = true;
        m_dragLast = event->position();
    }
    requestUpdate();
}

void MapWindow::mouseReleaseEvent(QMouseEvent* event) {
    ImGui::SetCurrentContext(m_imgui);
    forwardMouseButton(event, false);
    if (event->button() == Qt::LeftButton) m_dragging = false;
    requestUpdate();
}

void MapWindow::mouseMoveEvent(QMouseEvent* event) {
    ImGui::SetCurrentContext(m_imgui);
    forwardMouseMove(event);
    if (m_dragging) {
        const QPointF d = event->position() - m_dragLast;
        m_dragLast = event->position();
        m_viewport.panBy(d.x(), d.y());
        viewMoved();
        return;
    }
    const int pane = paneAt(event->position().x(), event->position().y());
    if (pane >= 0 && m_head) {
        const PixelRect p = layout().panes[pane];
        const int key = static_cast<int>(std::floor(m_viewport.cellX(event->position().x() - p.x)));
        const int query = static_cast<int>(std::floor(m_viewport.cellY(event->position().y() - p.y)));
        if (key >= 0 && query >= 0 && key < m_head->seqLen && query < m_head->seqLen) {
            if (query != m_hoverQuery || key != m_hoverKey) {
                m_hoverQuery = query;
                m_hoverKey = key;
                m_session->UI_hover(m_head->layer, m_head->head, query, key, m_variant);
                emit hoverCell(query, key);
            }
        } else {
            m_hoverQuery = m_hoverKey = -1;
        }
    } else {
        m_hoverQuery = m_hoverKey = -1;
    }
    requestUpdate();
}

void MapWindow::mouseDoubleClickEvent(QMouseEvent* event) {
    if (event->button() == Qt::LeftButton) UI_fit();
}

void MapWindow::wheelEvent(QWheelEvent* event) {
    ImGui::SetCurrentContext(m_imgui);
    forwardWheel(event);
    if (ImGui::GetIO().WantCaptureMouse) {
        requestUpdate();
        return;
    }
    int pane = paneAt(event->position().x(), event->position().y());
    if (pane < 0) pane = 0;
    const PixelRect p = layout().panes[pane];
    const double factor = std::pow(1.0015, event->angleDelta().y());
    m_viewport.zoomAt(event->position().x() - p.x, event->position().y() - p.y, factor);
    viewMoved();
}

void MapWindow::keyPressEvent(QKeyEvent* event) {
    ImGui::SetCurrentContext(m_imgui);
    forwardKey(event, true);
    switch (event->key()) {
        case Qt::Key_F:
        case Qt::Key_0: UI_fit(); break;
        case Qt::Key_Plus:
        case Qt::Key_Equal: UI_zoomAtCenter(1.25); break;
        case Qt::Key_Minus: UI_zoomAtCenter(0.8); break;
        case Qt::Key_Left: UI_pan(60, 0); break;
        case Qt::Key_Right: UI_pan(-60, 0); break;
        case Qt::Key_Up: UI_pan(0, 60); break;
        case Qt::Key_Down: UI_pan(0, -60); break;
        case Qt::Key_H: UI_setHudVisible(!m_hudVisible); break;
        default: emit keyAction(event->key()); break;
    }
    requestUpdate();
}

void MapWindow::keyReleaseEvent(QKeyEvent* event) {
    ImGui::SetCurrentContext(m_imgui);
    forwardKey(event, false);
    requestUpdate();
}

}  // namespace attnscope::views
