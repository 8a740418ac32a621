// The attention map view: a QVulkanWindow (embedded with QWidget::createWindowContainer) that
// draws the block-pyramid base and cached exact tiles of the visible quadtree level with
// MapRenderer, and ImGui overlays (labels, colorbar, hover readout, HUD) on top in the same render
// pass. Input changes only view state and posts tagged requests to the ComputeSession; tiles come
// back as signals, so panning and zooming never wait for computation.
#pragma once

#include <QVulkanWindow>

#include <chrono>
#include <deque>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "attnscope/colormap.h"
#include "compute-session.h"
#include "map-overlay.h"
#include "map-renderer.h"
#include "map-viewport.h"
#include "tile-cache.h"

struct ImGuiContext;

namespace attnscope::views {

enum class MapMode { Dense, VariantWeight, MaskOverlay, Difference, DroppedMass };
const char* mapModeName(MapMode mode);

struct MapDisplay {
    Pooling pooling = Pooling::Mean;
    bool logarithmic = true;
    double decades = 4.0;
    ColormapName colormap = ColormapName::Viridis;
    MapMode mode = MapMode::Dense;
    bool split = false;  // dense | mode side by side, one viewport (synchronized zoom)
};

// Where things are, in window (logical) pixels: reported by the self-test for screenshot checks.
struct MapLayout {
    std::vector<PixelRect> panes;
    PixelRect colorbar;
    PixelRect queryLabels;  // left of the first pane
    PixelRect keyLabels;    // above the first pane
};

class MapWindow : public QVulkanWindow {
    Q_OBJECT
public:
    explicit MapWindow(ComputeSession* session);
    ~MapWindow() override;
    QVulkanWindowRenderer* createRenderer() override;

    // UI thread API.
    void UI_setCapture(std::shared_ptr<const CaptureSummary> capture);
    void UI_setHead(std::shared_ptr<const HeadSnapshot> head);
    void UI_setDisplay(const MapDisplay& display);
    void UI_setVariant(const VariantSelection& variant, const std::string& displayName);
    void UI_fit();
    void UI_zoomAtCenter(double factor);
    void UI_pan(double dx, double dy);
    void UI_zoomToCells(double centerQuery, double centerKey, double cellsPerPixel);
    void UI_setHudVisible(bool visible);

    const MapDisplay& display() const { return m_display; }
    const MapViewport& viewport() const { return m_viewport; }
    bool hudVisible() const { return m_hudVisible; }
    MapLayout layout() const;
    // Head shown, every wanted tile computed and on the GPU: what a screenshot should wait for.
    bool complete() const;
    int labelsDrawn() const { return m_labelsDrawn; }
    HudStats hudStats() const { return m_hud; }
    std::vector<double> recentFrameMs() const { return {m_frameIntervals.begin(), m_frameIntervals.end()}; }
    std::shared_ptr<const HeadSnapshot> head() const { return m_head; }
    const TileCache& cache() const { return m_cache; }
    // The current pane-0 request for export: quantity and the visible cell rect.
    TileJob exportJob() const;
    MapColorParams paneColor(int pane) const;

signals:
    void viewChanged();
    void hoverCell(int query, int key);
    void keyAction(int key);  // keys the main window handles (its actions stay in sync)

protected:
    void mousePressEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseDoubleClickEvent(QMouseEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    void keyReleaseEvent(QKeyEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;

private:
    friend class MapWindowRenderer;
    struct PaneLayer {
        TileQuantity quantity;
        bool overlay;
    };
    std::vector<PaneLayer> paneLayers(int pane) const;
    MapMode paneMode(int pane) const;
    int paneCount() const { return m_display.split ? 2 : 1; }
    TileKey keyFor(const PaneLayer& layer, const TileCoord& tile) const;
    void updatePaneGeometry();
    void UI_requestMissingTiles();
    void UI_onTileReady(std::shared_ptr<const TileResult> result);
    void UI_onHoverReady(std::shared_ptr<const HoverResult> result);
    int paneAt(double x, double y) const;
    void viewMoved();

    // Frame building (UI thread, called from the renderer).
    void rendererReady(MapRenderer* renderer, std::string device);
    void rendererReleased();
    std::vector<MapDrawItem> buildDrawItems(float scale);
    uint64_t residentTexture(const TileKey& key, const CachedTile& tile, int& uploadBudget);
    void buildOverlay();
    void frameStarted();
    void frameRecorded(double recordMs);

    ComputeSession* m_session;
    MapRenderer* m_renderer = nullptr;
    ImGuiContext* m_imgui = nullptr;
    std::shared_ptr<const CaptureSummary> m_capture;
    std::shared_ptr<const HeadSnapshot> m_head;
    std::vector<std::string> m_tokens;
    MapDisplay m_display;
    VariantSelection m_variant;
    std::string m_variantName;
    MapViewport m_viewport;
    TileCache m_cache;
    std::vector<TileKey> m_wanted;
    size_t m_missing = 0;
    std::vector<TileKey> m_lastRequested;

    // GPU residency of cached tiles, most recent first.
    std::unordered_map<TileKey, std::pair<uint64_t, std::list<TileKey>::iterator>, TileKeyHash> m_resident;
    std::list<TileKey> m_residentOrder;
    uint64_t m_baseMeanTexture = 0, m_baseMaxTexture = 0;
    float m_baseMeanMax = 0.0f, m_baseMaxMax = 0.0f;

    // Interaction.
    bool m_dragging = false;
    QPointF m_dragLast;
    int m_hoverQuery = -1, m_hoverKey = -1;
    std::shared_ptr<const HoverResult> m_hover;
    bool m_hudVisible = true;
    int m_labelsDrawn = 0;

    // Frame timing.
    std::chrono::steady_clock::time_point m_lastFrame{};
    std::deque<double> m_frameIntervals;
    HudStats m_hud;
    std::string m_deviceName;
};

}  // namespace attnscope::views
