// Main window wiring: every action turns into view state or a ComputeSession request; results
// come back as signals and are handed to the views.
#include "main-window.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QSettings>
#include <QStatusBar>
#include <QTextBrowser>
#include <QTimer>
#include <QVBoxLayout>
#include <imgui.h>

#include <cmath>

#include "overview-grid-widget.h"
#include "token-labels.h"
#include "variant-panel.h"

namespace attnscope::app {

using namespace attnscope::views;

namespace {
constexpr int kMaxRecent = 8;

// Resident memory of this process, from /proc (Linux); 0 elsewhere.
double residentMiB() {
    QFile statm("/proc/self/statm");
    if (!statm.open(QIODevice::ReadOnly)) return 0.0;
    const QList<QByteArray> fields = statm.readAll().split(' ');
    if (fields.size() < 2) return 0.0;
    return fields[1].toDouble() * 4096.0 / (1024.0 * 1024.0);
}
}  // namespace

MainWindow::MainWindow(ComputeSession* session) : m_session(session) {
    setWindowTitle("AttnScope");
    setObjectName("AttnScopeMainWindow");
    setAcceptDrops(true);
    m_map = new MapWindow(session);
    m_mapContainer = QWidget::createWindowContainer(m_map, this);
    m_mapContainer->setObjectName("mapContainer");
    m_mapContainer->setMinimumSize(320, 320);
    m_mapContainer->setFocusPolicy(Qt::StrongFocus);
    setCentralWidget(m_mapContainer);
    createDocks();
    createMenus();
    createStatusBar();

    connect(session, &ComputeSession::backendReady, this, [this](const QString& name) {
        m_backendLabel->setText("Backend: " + name);
    });
    connect(session, &ComputeSession::opened, this, [this](std::shared_ptr<const CaptureSummary> summary) {
        m_capture = summary;
        const CaptureInfo& info = summary->info;
        setWindowTitle(QString("AttnScope - %1 (%2)").arg(QFileInfo(m_currentPath).fileName(),
                                                         QString::fromStdString(info.model)));
        m_map->UI_setCapture(summary);
        m_overview->UI_setShape(info.numLayers, info.numQueryHeads);
        m_pendingLayer = std::min(m_pendingLayer, info.numLayers - 1);
        m_pendingHead = std::min(m_pendingHead, info.numQueryHeads - 1);
        UI_selectHead(std::max(0, m_pendingLayer), std::max(0, m_pendingHead));
        UI_startOverview();
        UI_updateInspector();
    });
    connect(session, &ComputeSession::headReady, this, [this](std::shared_ptr<const HeadSnapshot> head) {
        m_head = head;
        m_hover.reset();
        m_map->UI_setHead(head);
        m_overview->UI_setCurrent(head->layer, head->head);
        UI_variantChanged();
        UI_updateInspector();
        statusBar()->showMessage(QString("L%1 H%2: statistics in %3 ms").arg(head->layer).arg(head->head).arg(head->millis, 0, 'f', 1), 5000);
        emit headShown(head->layer, head->head);
    });
    connect(session, &ComputeSession::variantReady, this, [this](std::shared_ptr<const VariantResult> r) {
        if (!m_head || r->layer != m_head->layer || r->head != m_head->head) return;
        if (r->variant.hash() != m_variantPanel->selection().hash()) return;  // stale
        m_variantPanel->UI_showMetrics(*r);
        m_variantMetricsFresh = true;
    });
    connect(session, &ComputeSession::hoverReady, this, [this](std::shared_ptr<const HoverResult> h) {
        m_hover = h;
        UI_updateInspector();
    });
    connect(session, &ComputeSession::overviewCell, m_overview, &OverviewGridWidget::UI_setValue);
    connect(session, &ComputeSession::progress, this, [this](const QString& stage, double fraction) {
        m_jobLabel->setText(stage);
        m_progress->setValue(static_cast<int>(std::lround(fraction * 1000)));
        m_progress->setVisible(true);
        m_cancel->setVisible(true);
    });
    connect(session, &ComputeSession::jobFinished, this, [this] {
        m_progress->setVisible(false);
        m_cancel->setVisible(false);
        m_jobLabel->clear();
    });
    connect(session, &ComputeSession::exportFinished, this, [this](const QString& path, const QString& error) {
        m_exportPending = false;
        if (error.isEmpty()) statusBar()->showMessage("Exported " + path, 5000);
        else UI_showError(error);
        emit exportDone(path, error);
    });
    connect(session, &ComputeSession::failed, this, &MainWindow::UI_showError);
    connect(m_map, &MapWindow::keyAction, this, &MainWindow::UI_onKey);
    restoreSettings();
}

MainWindow::~MainWindow() = default;

// [SECTION] Menus
void MainWindow::createMenus() {
    QMenu* file = menuBar()->addMenu("&File");
    QAction* open = file->addAction("&Open...", this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, "Open capture", QFileInfo(m_currentPath).absolutePath(),
                                                          "AttnScope captures (*.h5 *.hdf5);;All files (*)");
        if (!path.isEmpty()) UI_openFile(path);
    });
    open->setShortcut(QKeySequence::Open);
    m_recentMenu = file->addMenu("Open &Recent");
    file->addSeparator();
    file->addAction("&Export image...", this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, "Export map as PNG", "attention-map.png", "PNG (*.png)");
        if (path.isEmpty()) return;
        bool ok = false;
        const int size = QInputDialog::getInt(this, "Export image", "Resolution (pixels per side)", 2048, 16, 16384, 256, &ok);
        if (ok) UI_exportImage(path, size);
    })->setShortcut(QKeySequence("Ctrl+E"));
    file->addAction("Export overview &CSV...", this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, "Export overview table", "overview.csv", "CSV (*.csv)");
        QString error;
        if (!path.isEmpty() && !UI_exportOverviewCsv(path, &error)) UI_showError(error);
    });
    file->addSeparator();
    file->addAction("&Quit", this, &QWidget::close)->setShortcut(QKeySequence::Quit);

    m_viewMenu = menuBar()->addMenu("&View");
    m_viewMenu->addAction("&Fit map", this, [this] { m_map->UI_fit(); })->setShortcut(QKeySequence("Ctrl+0"));
    m_viewMenu->addAction("Zoom &in", this, [this] { m_map->UI_zoomAtCenter(1.5); })->setShortcut(QKeySequence::ZoomIn);
    m_viewMenu->addAction("Zoom &out", this, [this] { m_map->UI_zoomAtCenter(1 / 1.5); })->setShortcut(QKeySequence::ZoomOut);
    m_viewMenu->addSeparator();
    m_logAction = m_viewMenu->addAction("&Logarithmic scale");
    m_logAction->setCheckable(true);
    m_logAction->setChecked(true);
    m_logAction->setShortcut(QKeySequence("Ctrl+L"));
    m_maxPoolingAction = m_viewMenu->addAction("&Max pooling (else mean)");
    m_maxPoolingAction->setCheckable(true);
    m_maxPoolingAction->setShortcut(QKeySequence("Ctrl+M"));
    QMenu* colormaps = m_viewMenu->addMenu("&Colormap");
    m_colormapGroup = new QActionGroup(this);
    for (ColormapName map : {ColormapName::Viridis, ColormapName::Magma, ColormapName::Cividis}) {
        QAction* a = colormaps->addAction(colormapName(map));
        a->setCheckable(true);
        a->setData(static_cast<int>(map));
        a->setChecked(map == ColormapName::Viridis);
        m_colormapGroup->addAction(a);
    }
    m_splitAction = m_viewMenu->addAction("&Split view (dense | variant)");
    m_splitAction->setCheckable(true);
    m_splitAction->setShortcut(QKeySequence("Ctrl+D"));
    m_hudAction = m_viewMenu->addAction("Frame-time &HUD");
    m_hudAction->setCheckable(true);
    m_hudAction->setChecked(true);
    m_viewMenu->addSeparator();
    for (QAction* a : {m_logAction, m_maxPoolingAction}) connect(a, &QAction::toggled, this, &MainWindow::UI_applyDisplay);
    connect(m_colormapGroup, &QActionGroup::triggered, this, &MainWindow::UI_applyDisplay);
    connect(m_splitAction, &QAction::toggled, m_variantPanel, &VariantPanel::UI_setSplit);
    connect(m_hudAction, &QAction::toggled, m_map, &MapWindow::UI_setHudVisible);
    m_viewMenu->addAction(m_modelDock->toggleViewAction());
    m_viewMenu->addAction(m_variantDock->toggleViewAction());
    m_viewMenu->addAction(m_inspectorDock->toggleViewAction());

    QMenu* help = menuBar()->addMenu("&Help");
    help->addAction("&About AttnScope", this, [this] {
        QMessageBox::about(this, "About AttnScope",
                           QString("<b>AttnScope %1</b><br>Transformer attention analysis: dense and sparse attention "
                                   "replayed exactly on captured Q/K/V.<br>Qt %2, Dear ImGui %3, Vulkan.<br>%4")
                               .arg(ATTNSCOPE_VERSION_STRING, qVersion(), IMGUI_VERSION, m_backendLabel->text()));
    });
    help->addAction("&Keyboard shortcuts", this, [this] {
        QMessageBox::information(this, "Keyboard shortcuts",
                                 "In the map: wheel = zoom at cursor, drag = pan, double-click or F = fit,\n"
                                 "+/- = zoom, arrows = pan, H = HUD, L = log/linear, S = split view,\n"
                                 "1/2/3 = viridis/magma/cividis, P = mean/max pooling.");
    });
}

void MainWindow::createDocks() {
    // Model browser + overview.
    auto* modelWidget = new QWidget(this);
    auto* modelLayout = new QVBoxLayout(modelWidget);
    auto* controls = new QHBoxLayout;
    m_overviewMetric = new QComboBox(modelWidget);
    for (OverviewMetric m : {OverviewMetric::SinkMass, OverviewMetric::MeanEntropy, OverviewMetric::Recall,
                             OverviewMetric::OutputError})
        m_overviewMetric->addItem(overviewMetricName(m), static_cast<int>(m));
    m_overviewDensity = new QDoubleSpinBox(modelWidget);
    m_overviewDensity->setRange(0.01, 1.0);
    m_overviewDensity->setSingleStep(0.05);
    m_overviewDensity->setValue(0.1);
    m_overviewDensity->setPrefix("density ");
    m_overviewDensity->setToolTip("Budget for recall / output error: each head's variant parameters are chosen to reach it");
    controls->addWidget(m_overviewMetric, 1);
    controls->addWidget(m_overviewDensity);
    modelLayout->addLayout(controls);
    m_overview = new OverviewGridWidget(modelWidget);
    m_overview->setObjectName("overviewGrid");
    modelLayout->addWidget(m_overview, 1);
    m_modelDock = new QDockWidget("Model: layers x heads", this);
    m_modelDock->setObjectName("modelDock");
    m_modelDock->setWidget(modelWidget);
    addDockWidget(Qt::LeftDockWidgetArea, m_modelDock);
    connect(m_overview, &OverviewGridWidget::headClicked, this, &MainWindow::UI_selectHead);
    connect(m_overviewMetric, &QComboBox::currentIndexChanged, this, &MainWindow::UI_startOverview);
    connect(m_overviewDensity, &QDoubleSpinBox::valueChanged, this, [this] {
        const auto metric = static_cast<OverviewMetric>(m_overviewMetric->currentData().toInt());
        if (metric == OverviewMetric::Recall || metric == OverviewMetric::OutputError) UI_startOverview();
    });

    m_variantPanel = new VariantPanel(this);
    m_variantDock = new QDockWidget("Variant", this);
    m_variantDock->setObjectName("variantDock");
    m_variantDock->setWidget(m_variantPanel);
    addDockWidget(Qt::RightDockWidgetArea, m_variantDock);
    connect(m_variantPanel, &VariantPanel::variantChanged, this, &MainWindow::UI_variantChanged);
    connect(m_variantPanel, &VariantPanel::displayChanged, this, &MainWindow::UI_applyDisplay);

    m_inspector = new QTextBrowser(this);
    m_inspector->setObjectName("inspector");
    m_inspectorDock = new QDockWidget("Inspector", this);
    m_inspectorDock->setObjectName("inspectorDock");
    m_inspectorDock->setWidget(m_inspector);
    addDockWidget(Qt::RightDockWidgetArea, m_inspectorDock);
}

void MainWindow::createStatusBar() {
    m_backendLabel = new QLabel("Backend: starting...", this);
    m_memoryLabel = new QLabel(this);
    m_jobLabel = new QLabel(this);
    m_progress = new QProgressBar(this);
    m_progress->setRange(0, 1000);
    m_progress->setMaximumWidth(180);
    m_progress->setVisible(false);
    m_cancel = new QPushButton("Cancel", this);
    m_cancel->setVisible(false);
    connect(m_cancel, &QPushButton::clicked, this, [this] { m_session->UI_cancelLongJob(); });
    statusBar()->addPermanentWidget(m_jobLabel);
    statusBar()->addPermanentWidget(m_progress);
    statusBar()->addPermanentWidget(m_cancel);
    statusBar()->addPermanentWidget(m_memoryLabel);
    statusBar()->addPermanentWidget(m_backendLabel);
    auto* timer = new QTimer(this);
    connect(timer, &QTimer::timeout, this, [this] {
        m_memoryLabel->setText(QString("Memory: %1 MiB").arg(residentMiB(), 0, 'f', 0));
    });
    timer->start(1000);
    m_memoryLabel->setText(QString("Memory: %1 MiB").arg(residentMiB(), 0, 'f', 0));
}

// [SECTION] Settings
void MainWindow::restoreSettings() {
    QSettings settings;
    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
    const QString colormap = settings.value("view/colormap", "viridis").toString();
    for (QAction* a : m_colormapGroup->actions())
        if (a->text() == colormap) a->setChecked(true);
    m_logAction->setChecked(settings.value("view/log", true).toBool());
    m_maxPoolingAction->setChecked(settings.value("view/maxPooling", false).toBool());
    m_hudAction->setChecked(settings.value("view/hud", true).toBool());
    UI_updateRecentMenu();
    UI_applyDisplay();
}

void MainWindow::closeEvent(QCloseEvent* event) {
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    if (QAction* a = m_colormapGroup->checkedAction()) settings.setValue("view/colormap", a->text());
    settings.setValue("view/log", m_logAction->isChecked());
    settings.setValue("view/maxPooling", m_maxPoolingAction->isChecked());
    settings.setValue("view/hud", m_hudAction->isChecked());
    QMainWindow::closeEvent(event);
}

void MainWindow::UI_updateRecentMenu() {
    m_recentMenu->clear();
    const QStringList recent = QSettings().value("files/recent").toStringList();
    for (const QString& path : recent) m_recentMenu->addAction(path, this, [this, path] { UI_openFile(path); });
    m_recentMenu->setEnabled(!recent.isEmpty());
}

// [SECTION] Actions
void MainWindow::UI_openFile(const QString& path) {
    m_currentPath = path;
    m_head.reset();
    m_hover.reset();
    m_variantMetricsFresh = false;
    m_session->UI_open(path);
    QSettings settings;
    QStringList recent = settings.value("files/recent").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxRecent) recent.removeLast();
    settings.setValue("files/recent", recent);
    UI_updateRecentMenu();
    statusBar()->showMessage("Opening " + path, 3000);
}

void MainWindow::UI_selectHead(int layer, int head) {
    m_pendingLayer = layer;
    m_pendingHead = head;
    m_variantMetricsFresh = false;
    m_overview->UI_setCurrent(layer, head);
    m_session->UI_selectHead(layer, head);
}

void MainWindow::UI_variantChanged() {
    const VariantSelection selection = m_variantPanel->selection();
    m_variantMetricsFresh = false;
    m_map->UI_setVariant(selection, m_variantPanel->displayName());
    if (m_head && !selection.id.empty()) m_session->UI_evaluateVariant(m_head->layer, m_head->head, selection);
    const auto metric = static_cast<OverviewMetric>(m_overviewMetric->currentData().toInt());
    if (metric == OverviewMetric::Recall || metric == OverviewMetric::OutputError) UI_startOverview();
}

void MainWindow::UI_applyDisplay() {
    MapDisplay d = m_map->display();
    d.logarithmic = m_logAction->isChecked();
    d.pooling = m_maxPoolingAction->isChecked() ? Pooling::Max : Pooling::Mean;
    if (QAction* a = m_colormapGroup->checkedAction()) d.colormap = static_cast<ColormapName>(a->data().toInt());
    d.mode = m_variantPanel->mode();
    d.split = m_variantPanel->split();
    if (m_splitAction->isChecked() != d.split) m_splitAction->setChecked(d.split);
    m_map->UI_setDisplay(d);
}

void MainWindow::UI_onKey(int key) {
    switch (key) {
        case Qt::Key_L: m_logAction->toggle(); break;
        case Qt::Key_P: m_maxPoolingAction->toggle(); break;
        case Qt::Key_S: m_variantPanel->UI_setSplit(!m_variantPanel->split()); break;
        case Qt::Key_1:
        case Qt::Key_2:
        case Qt::Key_3: m_colormapGroup->actions().at(key - Qt::Key_1)->trigger(); break;
        default: break;
    }
}

void MainWindow::UI_startOverview() {
    if (!m_capture) return;
    OverviewRequest request;
    request.metric = static_cast<OverviewMetric>(m_overviewMetric->currentData().toInt());
    request.density = m_overviewDensity->value();
    request.variant = m_variantPanel->selection();
    const bool needsVariant = request.metric == OverviewMetric::Recall || request.metric == OverviewMetric::OutputError;
    m_overview->UI_clearValues();
    m_overview->UI_setMetricName(overviewMetricName(request.metric), request.metric == OverviewMetric::OutputError);
    if (needsVariant && request.variant.id.empty()) {
        m_overview->UI_setMetricName(QString(overviewMetricName(request.metric)) + " (choose a variant)", false);
        return;
    }
    if (needsVariant)
        m_overview->UI_setMetricName(QString("%1 of %2 at density %3")
                                         .arg(overviewMetricName(request.metric),
                                              QString::fromStdString(request.variant.id))
                                         .arg(request.density),
                                     request.metric == OverviewMetric::OutputError);
    m_session->UI_startOverview(request);
}

void MainWindow::UI_exportImage(const QString& path, int size) {
    if (!m_head) return;
    ExportRequest request;
    request.path = path;
    request.job = m_map->exportJob();
    const CellRect cells = m_map->viewport().visibleCells();
    request.queryBegin = static_cast<int>(std::floor(cells.y0));
    request.queryEnd = std::max(request.queryBegin + 1, static_cast<int>(std::ceil(cells.y1)));
    request.keyBegin = static_cast<int>(std::floor(cells.x0));
    request.keyEnd = std::max(request.keyBegin + 1, static_cast<int>(std::ceil(cells.x1)));
    // Keep the aspect of the visible rectangle; `size` is the longer side.
    const double aspect = static_cast<double>(request.keyEnd - request.keyBegin) / (request.queryEnd - request.queryBegin);
    request.width = aspect >= 1 ? size : std::max(1, static_cast<int>(std::lround(size * aspect)));
    request.height = aspect >= 1 ? std::max(1, static_cast<int>(std::lround(size / aspect))) : size;
    const MapColorParams color = m_map->paneColor(0);
    request.logarithmic = color.logarithmic;
    request.decades = color.decades;
    request.colormap = color.colormap;
    m_exportPending = true;
    m_session->UI_exportImage(request);
}

bool MainWindow::UI_exportOverviewCsv(const QString& path, QString* error) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text) || file.write(m_overview->toCsv().toUtf8()) < 0 ||
        !file.commit()) {
        if (error) *error = "cannot write " + path + ": " + file.errorString();
        return false;
    }
    statusBar()->showMessage("Exported " + path, 5000);
    return true;
}

void MainWindow::UI_updateInspector() {
    QString html;
    if (m_capture) {
        const CaptureInfo& info = m_capture->info;
        html += QString("<b>%1</b> (%2)<br>%3 layers x %4 query heads (%5 KV), head dim %6, %7 tokens, %8<br>")
                    .arg(QString::fromStdString(info.model).toHtmlEscaped(), QString::fromStdString(info.modelType))
                    .arg(info.numLayers)
                    .arg(info.numQueryHeads)
                    .arg(info.numKvHeads)
                    .arg(info.headDim)
                    .arg(info.seqLen)
                    .arg(info.causal ? "causal" : "bidirectional");
    }
    if (m_head) {
        html += QString("<hr><b>Layer %1, head %2</b><br>sink mass (token 0) %3<br>mean entropy %4 nats<br>"
                        "statistics %5 ms<br>")
                    .arg(m_head->layer)
                    .arg(m_head->head)
                    .arg(m_head->sinkMass, 0, 'f', 4)
                    .arg(m_head->meanEntropy, 0, 'f', 3)
                    .arg(m_head->millis, 0, 'f', 1);
    }
    if (m_hover && m_head && m_capture && m_hover->layer == m_head->layer && m_hover->head == m_head->head) {
        const auto& tokens = m_capture->info.tokens.text;
        auto tok = [&](int i) {
            return QString::fromStdString(i < static_cast<int>(tokens.size()) ? tokenDisplayText(tokens[i], 32) : "?")
                .toHtmlEscaped();
        };
        html += QString("<hr><b>Cell</b> query %1 \"%2\", key %3 \"%4\"<br>weight %5, rank %6 of %7<br>"
                        "key receives %8 in total; query row entropy %9")
                    .arg(m_hover->query)
                    .arg(tok(m_hover->query))
                    .arg(m_hover->key)
                    .arg(tok(m_hover->key))
                    .arg(m_hover->weight, 0, 'g', 5)
                    .arg(m_hover->rank)
                    .arg(m_hover->visibleKeys)
                    .arg(m_head->columnSums[m_hover->key], 0, 'g', 4)
                    .arg(m_head->rowEntropy[m_hover->query], 0, 'g', 4);
        if (m_hover->hasVariant) html += QString("<br>variant: %1").arg(m_hover->kept ? "kept" : "dropped");
    }
    m_inspector->setHtml(html);
}

void MainWindow::UI_showError(const QString& message) {
    m_lastError = message;
    statusBar()->showMessage("Error: " + message, 10000);
    if (m_dialogs) QMessageBox::critical(this, "AttnScope", message);
}

// [SECTION] Drag and drop
void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    for (const QUrl& url : event->mimeData()->urls())
        if (url.isLocalFile() && (url.toLocalFile().endsWith(".h5") || url.toLocalFile().endsWith(".hdf5"))) {
            event->acceptProposedAction();
            return;
        }
}

void MainWindow::dropEvent(QDropEvent* event) {
    for (const QUrl& url : event->mimeData()->urls())
        if (url.isLocalFile()) {
            UI_openFile(url.toLocalFile());
            event->acceptProposedAction();
            return;
        }
}

}  // namespace attnscope::app
