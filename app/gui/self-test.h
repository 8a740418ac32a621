// Scripted end-to-end session for tests and demos (`attnscope --self-test DIR`): opens the capture,
// clicks a head in the overview, zooms with wheel events until token labels show, switches to a
// variant in split view, hovers a cell, measures frame times while panning and zooming, exports a
// PNG and the overview CSV, switches back to the first head, and writes screenshots plus
// report.json (layout rectangles, timings) to DIR. Driven by a timer on the UI thread: it waits for results and never blocks the event loop.
#pragma once

#include <QElapsedTimer>
#include <QJsonObject>
#include <QObject>
#include <QString>
#include <QTimer>

#include <memory>
#include <vector>

#include "compute-session.h"

namespace attnscope::app {

class MainWindow;

class SelfTest : public QObject {
    Q_OBJECT
public:
    SelfTest(MainWindow* window, QString outDir, QString capturePath);
    void start();
    int exitCode() const { return m_exitCode; }

private:
    void UI_tick();
    void UI_next();
    void UI_fail(const QString& why);
    void UI_finish();
    void UI_clickHead(int layer, int head);
    std::shared_ptr<const views::HeadSnapshot> UI_shownHead(int layer, int head, const QString& key);
    QString UI_screenshot(const QString& name);
    QJsonObject layoutJson() const;

    MainWindow* m_window;
    QString m_outDir;
    QString m_capture;
    QTimer m_timer;
    QElapsedTimer m_stepClock;
    QElapsedTimer m_totalClock;
    int m_step = 0;
    int m_substep = 0;
    int m_exitCode = 1;
    int m_targetLayer = 0, m_targetHead = 0;
    int m_firstLayer = 0, m_firstHead = 0;  // the head shown after opening
    QJsonObject m_report;
    // Frame-time measurement while panning/zooming.
    QElapsedTimer m_measureClock;
    qint64 m_lastTickNs = 0;
    std::vector<double> m_tickGapsMs;
    std::vector<double> m_frameMs;
    int m_frameCountStart = 0;
    QString m_exportPath;
    bool m_exportDone = false;
    QString m_exportError;
};

}  // namespace attnscope::app
