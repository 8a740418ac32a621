// The AttnScope main window: menus and actions, docks (model browser/overview, variant panel,
// inspector), the status bar (backend, memory, job progress with cancel), drag and drop, recent
// files and window layout in QSettings. Wiring only: no math, no computation, no file reading.
#pragma once

#include <QMainWindow>

#include <memory>

#include "compute-session.h"
#include "map-window.h"

class QActionGroup;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QMenu;
class QProgressBar;
class QPushButton;
class QTextBrowser;

namespace attnscope::views {
class OverviewGridWidget;
class VariantPanel;
}  // namespace attnscope::views

namespace attnscope::app {

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(views::ComputeSession* session);
    ~MainWindow() override;

    void UI_openFile(const QString& path);
    void UI_selectHead(int layer, int head);
    void UI_exportImage(const QString& path, int size);
    bool UI_exportOverviewCsv(const QString& path, QString* error);
    void UI_startOverview();

    views::MapWindow* mapWindow() const { return m_map; }
    QWidget* mapContainer() const { return m_mapContainer; }
    views::VariantPanel* variantPanel() const { return m_variantPanel; }
    views::OverviewGridWidget* overviewGrid() const { return m_overview; }
    QDockWidget* modelDock() const { return m_modelDock; }
    QDockWidget* variantDock() const { return m_variantDock; }
    QDockWidget* inspectorDock() const { return m_inspectorDock; }
    std::shared_ptr<const views::HeadSnapshot> currentHead() const { return m_head; }
    bool hasVariantMetrics() const { return m_variantMetricsFresh; }
    QString lastError() const { return m_lastError; }
    bool exportPending() const { return m_exportPending; }
    // Self-test: errors go to the status bar and lastError() instead of a modal dialog.
    void setDialogsEnabled(bool enabled) { m_dialogs = enabled; }

signals:
    void headShown(int layer, int head);
    void exportDone(const QString& path, const QString& error);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createMenus();
    void createDocks();
    void createStatusBar();
    void restoreSettings();
    void UI_updateRecentMenu();
    void UI_applyDisplay();
    void UI_variantChanged();
    void UI_updateInspector();
    void UI_onKey(int key);
    void UI_showError(const QString& message);

    views::ComputeSession* m_session;
    views::MapWindow* m_map;
    QWidget* m_mapContainer;
    views::VariantPanel* m_variantPanel = nullptr;
    views::OverviewGridWidget* m_overview = nullptr;
    QComboBox* m_overviewMetric = nullptr;
    QDoubleSpinBox* m_overviewDensity = nullptr;
    QTextBrowser* m_inspector = nullptr;
    QDockWidget* m_modelDock = nullptr;
    QDockWidget* m_variantDock = nullptr;
    QDockWidget* m_inspectorDock = nullptr;
    QMenu* m_recentMenu = nullptr;
    QMenu* m_viewMenu = nullptr;
    QAction* m_logAction = nullptr;
    QAction* m_maxPoolingAction = nullptr;
    QAction* m_splitAction = nullptr;
    QAction* m_hudAction = nullptr;
    QActionGroup* m_colormapGroup = nullptr;
    QLabel* m_backendLabel = nullptr;
    QLabel* m_memoryLabel = nullptr;
    QLabel* m_jobLabel = nullptr;
    QProgressBar* m_progress = nullptr;
    QPushButton* m_cancel = nullptr;

    std::shared_ptr<const views::CaptureSummary> m_capture;
    std::shared_ptr<const views::HeadSnapshot> m_head;
    std::shared_ptr<const views::HoverResult> m_hover;
    QString m_currentPath;
    int m_pendingLayer = 0, m_pendingHead = 0;
    bool m_variantMetricsFresh = false;
    bool m_exportPending = false;
    QString m_lastError;
    bool m_dialogs = true;
};

}  // namespace attnscope::app
