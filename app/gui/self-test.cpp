// The self-test state machine: one step per condition, polled every 20 ms, each with a timeout.
#include "self-test.h"

#include <QApplication>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QMouseEvent>
#include <QPainter>
#include <QScreen>
#include <QSpinBox>
#include <QWheelEvent>

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "main-window.h"
#include "overview-grid-widget.h"
#include "variant-panel.h"

namespace attnscope::app {

using namespace attnscope::views;

namespace {
constexpr qint64 kStepTimeoutMs = 120000;

QJsonObject rectJson(double x, double y, double w, double h) {
    return QJsonObject{{"x", x}, {"y", y}, {"w", w}, {"h", h}};
}

QJsonObject statsJson(std::vector<double> v) {
    if (v.empty()) return {};
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))]; };
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
    return QJsonObject{{"count", static_cast<int>(v.size())}, {"mean_ms", mean}, {"median_ms", pct(0.5)},
                       {"p95_ms", pct(0.95)}, {"max_ms", v.back()}};
}
}  // namespace

SelfTest::SelfTest(MainWindow* window, QString outDir, QString capturePath)
    : m_window(window), m_outDir(std::move(outDir)), m_capture(std::move(capturePath)) {
    QDir().mkpath(m_outDir);
    connect(&m_timer, &QTimer::timeout, this, &SelfTest::UI_tick);
    connect(m_window, &MainWindow::exportDone, this, [this](const QString&, const QString& error) {
        m_exportDone = true;
        m_exportError = error;
    });
}

void SelfTest::start() {
    m_totalClock.start();
    m_stepClock.start();
    m_report["capture"] = m_capture;
    m_timer.start(20);
}

void SelfTest::UI_fail(const QString& why) {
    std::fprintf(stderr, "self-test FAILED at step %d: %s\n", m_step, qPrintable(why));
    m_report["failed"] = why;
    m_report["failed_step"] = m_step;
    UI_screenshot("failure.png");
    m_exitCode = 1;
    UI_finish();
}

void SelfTest::UI_next() {
    std::fprintf(stderr, "self-test: step %d done after %lld ms\n", m_step, static_cast<long long>(m_stepClock.elapsed()));
    ++m_step;
    m_substep = 0;
    m_stepClock.restart();
}

void SelfTest::UI_finish() {
    m_timer.stop();
    m_report["total_ms"] = static_cast<double>(m_totalClock.elapsed());
    m_report["exit_code"] = m_exitCode;
    QFile file(m_outDir + "/report.json");
    if (file.open(QIODevice::WriteOnly)) file.write(QJsonDocument(m_report).toJson());
    file.close();
    QTimer::singleShot(0, qApp, [] { qApp->quit(); });
}

QJsonObject SelfTest::layoutJson() const {
    const MapWindow* map = m_window->mapWindow();
    const QPoint origin = m_window->mapContainer()->mapTo(m_window, QPoint(0, 0));
    const MapLayout l = map->layout();
    auto shifted = [&](const PixelRect& r) { return rectJson(r.x + origin.x(), r.y + origin.y(), r.w, r.h); };
    QJsonArray panes;
    for (const PixelRect& p : l.panes) panes.append(shifted(p));
    QJsonObject docks;
    for (QDockWidget* dock : {m_window->modelDock(), m_window->variantDock(), m_window->inspectorDock()}) {
        const QPoint o = dock->mapTo(m_window, QPoint(0, 0));
        QJsonObject d = rectJson(o.x(), o.y(), dock->width(), dock->height());
        d["visible"] = dock->isVisible();
        d["title"] = dock->windowTitle();
        docks[dock->objectName()] = d;
    }
    const QPoint c = m_window->mapContainer()->mapTo(m_window, QPoint(0, 0));
    return QJsonObject{{"window", rectJson(0, 0, m_window->width(), m_window->height())},
                       {"map_container", rectJson(c.x(), c.y(), m_window->mapContainer()->width(),
                                                  m_window->mapContainer()->height())},
                       {"panes", panes},
                       {"colorbar", shifted(l.colorbar)},
                       {"query_labels", shifted(l.queryLabels)},
                       {"key_labels", shifted(l.keyLabels)},
                       {"docks", docks},
                       {"labels_drawn", map->labelsDrawn()},
                       {"pixels_per_cell", map->viewport().pixelsPerCell()}};
}

QString SelfTest::UI_screenshot(const QString& name) {
    // The Vulkan surface is a native child window: grab the widgets, then paint the map window's
    // own grab (a real rendered frame read back from the swapchain) over its container.
    QImage shot = m_window->grab().toImage().convertToFormat(QImage::Format_RGB32);
    MapWindow* map = m_window->mapWindow();
    QImage frame = map->grab();
    if (map->colorFormat() == VK_FORMAT_B8G8R8A8_UNORM || map->colorFormat() == VK_FORMAT_B8G8R8A8_SRGB)
        frame = frame.rgbSwapped();  // grab() returns BGRA labelled RGBA (STACK.md §3 pitfall 1)
    frame.setDevicePixelRatio(1.0);
    {
        QPainter painter(&shot);
        const QPoint origin = m_window->mapContainer()->mapTo(m_window, QPoint(0, 0));
        painter.drawImage(QRect(origin, m_window->mapContainer()->size()), frame);
    }
    const QString path = m_outDir + "/" + name;
    shot.save(path);
    frame.save(m_outDir + "/map-frame-" + name);
    // The X server's own view of the screen, as a user would see it (kept as an extra artifact).
    if (QScreen* screen = m_window->screen()) screen->grabWindow(0).save(m_outDir + "/screen-" + name);
    QJsonObject shots = m_report["screenshots"].toObject();
    QJsonObject entry = layoutJson();
    entry["path"] = path;
    shots[name] = entry;
    m_report["screenshots"] = shots;
    return path;
}

// A click on the head's cell of the overview grid, as a user would.
void SelfTest::UI_clickHead(int layer, int head) {
    OverviewGridWidget* grid = m_window->overviewGrid();
    const QPointF at = grid->cellRect(layer, head).center();
    QMouseEvent press(QEvent::MouseButtonPress, at, grid->mapToGlobal(at), Qt::LeftButton, Qt::LeftButton,
                      Qt::NoModifier);
    QApplication::sendEvent(grid, &press);
    QMouseEvent release(QEvent::MouseButtonRelease, at, grid->mapToGlobal(at), Qt::LeftButton, Qt::NoButton,
                        Qt::NoModifier);
    QApplication::sendEvent(grid, &release);
}

// The current head once it is (layer, head) and its map is complete (else null), with the
// switch's time and whether its statistics were reused recorded under `key`.
std::shared_ptr<const HeadSnapshot> SelfTest::UI_shownHead(int layer, int head, const QString& key) {
    auto shown = m_window->currentHead();
    if (!shown || shown->layer != layer || shown->head != head || !m_window->mapWindow()->complete()) return nullptr;
    m_report[key + "_ms"] = static_cast<double>(m_stepClock.elapsed());
    m_report[key + "_reused_statistics"] = shown->statisticsReused;
    return shown;
}

void SelfTest::UI_tick() {
    MapWindow* map = m_window->mapWindow();
    if (m_stepClock.elapsed() > kStepTimeoutMs) {
        UI_fail("timed out; last error: " + m_window->lastError());
        return;
    }
    switch (m_step) {
        case 0: {  // the capture is open, head 0 computed and drawn
            if (!m_window->currentHead() || !map->complete()) return;
            m_report["initial_head_ms"] = static_cast<double>(m_stepClock.elapsed());
            m_firstLayer = m_window->currentHead()->layer;
            m_firstHead = m_window->currentHead()->head;
            UI_screenshot("01-opened.png");
            UI_next();
            return;
        }
        case 1: {  // click a head in the overview grid, as a user would
            OverviewGridWidget* grid = m_window->overviewGrid();
            if (m_substep == 0) {
                m_targetLayer = std::min(2, grid->layers() - 1);
                m_targetHead = std::min(4, grid->heads() - 1);
                UI_clickHead(m_targetLayer, m_targetHead);
                m_substep = 1;
                return;
            }
            auto head = UI_shownHead(m_targetLayer, m_targetHead, "head_switch");
            if (!head) return;
            m_report["head"] = QJsonObject{{"layer", head->layer}, {"head", head->head}, {"tokens", head->seqLen}};
            UI_next();
            return;
        }
        case 2: {  // wheel-zoom near the top-left of the map until cells are large enough for labels
            const MapLayout l = map->layout();
            if (map->viewport().pixelsPerCell() < 18.0) {
                // Aim at query 30, key 24: a region with a visible pattern near the first tokens.
                const MapViewport& v = map->viewport();
                const QPointF at(l.panes[0].x + v.pixelX(24.0), l.panes[0].y + v.pixelY(30.0));
                QWheelEvent wheel(at, map->mapToGlobal(at), QPoint(), QPoint(0, 240), Qt::NoButton, Qt::NoModifier,
                                  Qt::NoScrollPhase, false);
                QApplication::sendEvent(map, &wheel);
                return;
            }
            if (!map->complete()) return;
            UI_screenshot("02-zoomed.png");
            UI_next();
            return;
        }
        case 3: {  // variant, split view, mask overlay
            VariantPanel* panel = m_window->variantPanel();
            if (m_substep == 0) {
                if (!panel->UI_selectVariant("streaming-llm")) {
                    UI_fail("variant streaming-llm is not registered");
                    return;
                }
                // A window shorter than the prompt, so the mask drops something visible.
                if (auto* window = panel->findChild<QSpinBox*>("param-window")) window->setValue(24);
                panel->UI_setMode(MapMode::MaskOverlay);
                panel->UI_setSplit(true);
                m_substep = 1;
                return;
            }
            if (!m_window->hasVariantMetrics() || !map->complete()) return;
            if (m_substep == 1) {
                // Hover a cell of the left pane to get the readout.
                const MapLayout l = map->layout();
                const QPointF at(l.panes[0].x + l.panes[0].w * 0.45, l.panes[0].y + l.panes[0].h * 0.6);
                QMouseEvent move(QEvent::MouseMove, at, map->mapToGlobal(at), Qt::NoButton, Qt::NoButton, Qt::NoModifier);
                QApplication::sendEvent(map, &move);
                m_substep = 2;
                m_stepClock.restart();
                return;
            }
            if (m_stepClock.elapsed() < 600) return;  // the hover result arrives through the compute thread
            UI_screenshot("03-variant-split.png");
            UI_screenshot("app-screenshot.png");
            UI_next();
            return;
        }
        case 4: {  // 3 s of continuous pan and zoom: frame times and UI-thread responsiveness
            if (m_substep == 0) {
                m_measureClock.start();
                m_lastTickNs = 0;
                m_tickGapsMs.clear();
                m_timer.setInterval(0);
                m_substep = 1;
                return;
            }
            const qint64 now = m_measureClock.nsecsElapsed();
            if (m_lastTickNs) m_tickGapsMs.push_back((now - m_lastTickNs) / 1e6);
            m_lastTickNs = now;
            const double t = now / 1e9;
            const int phase = static_cast<int>(t * 2) % 4;
            if (phase == 0) map->UI_pan(7, 3);
            else if (phase == 1) map->UI_zoomAtCenter(0.985);
            else if (phase == 2) map->UI_pan(-7, -3);
            else map->UI_zoomAtCenter(1.015);
            if (t < 3.0) return;
            m_timer.setInterval(20);
            const std::vector<double> frames = map->recentFrameMs();
            m_report["pan_zoom_frames"] = statsJson(frames);
            m_report["ui_event_loop_gaps"] = statsJson(m_tickGapsMs);
            const HudStats hud = map->hudStats();
            m_report["hud"] = QJsonObject{{"frame_ms", hud.frameMs}, {"frame_ms_max", hud.frameMsMax},
                                          {"record_ms", hud.recordMs}, {"device", QString::fromStdString(hud.device)},
                                          {"backend", QString::fromStdString(hud.backend)}};
            UI_next();
            return;
        }
        case 5: {  // exports: the map as PNG (compute thread, atomic write) and the overview CSV
            if (m_substep == 0) {
                m_exportPath = m_outDir + "/export-map.png";
                QFile::remove(m_exportPath);
                m_exportDone = false;
                m_window->UI_exportImage(m_exportPath, 512);
                m_substep = 1;
                return;
            }
            if (!m_exportDone) return;
            if (!m_exportError.isEmpty()) {
                UI_fail("export failed: " + m_exportError);
                return;
            }
            m_report["export_png"] = m_exportPath;
            UI_next();
            return;
        }
        case 6: {
            OverviewGridWidget* grid = m_window->overviewGrid();
            if (grid->computedCount() < grid->layers() * grid->heads()) return;
            QString error;
            if (!m_window->UI_exportOverviewCsv(m_outDir + "/overview.csv", &error)) {
                UI_fail(error);
                return;
            }
            m_report["overview_metric"] = grid->metricName();
            m_report["overview_csv"] = m_outDir + "/overview.csv";
            m_report["overview_ms"] = static_cast<double>(m_stepClock.elapsed());
            UI_screenshot("04-final.png");
            UI_next();
            return;
        }
        case 7: {  // back to the first head: its dense statistics come from the session's cache
            if (m_substep == 0) {
                UI_clickHead(m_firstLayer, m_firstHead);
                m_substep = 1;
                return;
            }
            if (!UI_shownHead(m_firstLayer, m_firstHead, "head_switch_back")) return;
            m_exitCode = 0;
            UI_finish();
            return;
        }
        default: return;
    }
}

}  // namespace attnscope::app
