// The compute thread (CT_) and its UI-facing API (UI_). One std::thread owns the capture reader
// and the Backend (createBackend("auto")); the UI thread posts tagged requests, where a new request
// replaces a pending one with the same tag (pan/zoom, hover and head clicks make many), and gets
// results back as Qt signals delivered on the UI thread. Long jobs report progress through
// JobControl and can be cancelled. The UI thread never computes and never reads HDF5.
#pragma once

#include <QObject>
#include <QString>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "attnscope/io/capture-info.h"
#include "attnscope/variant-evaluation.h"
#include "attnscope/variant.h"
#include "tile-cache.h"

namespace attnscope {
class Backend;
}

namespace attnscope::views {

struct CaptureSummary {
    CaptureInfo info;
};

// What the views need of one head once its statistics pass is done.
struct HeadSnapshot {
    int layer = 0;
    int head = 0;
    int seqLen = 0;
    AttentionConfig config;
    // Base image of the whole map (pyramid-base.h).
    int baseCellsPerBlock = 64;
    int baseRows = 0, baseCols = 0;
    std::vector<float> baseMean, baseMax;  // [rows, cols]; NaN where a block has no visible cell
    std::vector<double> columnSums;        // attention received per key
    std::vector<double> rowEntropy;
    double meanEntropy = 0.0;
    double sinkMass = 0.0;  // columnSums[0] / T
    double millis = 0.0;
    bool statisticsReused = false;  // the dense statistics were computed before (the session's cache)
};

// The variant the map and the metrics refer to.
struct VariantSelection {
    std::string id;  // empty: none (dense only)
    ParamValues params;
    uint64_t hash() const { return id.empty() ? 0 : variantParamsHash(id, params); }
};

struct TileJob {
    TileKey key;
    VariantSelection variant;  // required when key.quantity is not DenseWeight
};

struct TileResult {
    TileKey key;
    std::shared_ptr<const CachedTile> tile;
    double millis = 0.0;
};

struct VariantResult {
    int layer = 0, head = 0;
    VariantSelection variant;
    VariantMetrics metrics;
    double millis = 0.0;
};

struct HoverResult {
    int layer = 0, head = 0, query = 0, key = 0;
    bool visible = false;
    float weight = 0.0f;
    int rank = 0;          // 1 = the row's largest weight
    int visibleKeys = 0;
    bool hasVariant = false;
    bool kept = false;
    float variantWeight = 0.0f;
};

enum class OverviewMetric { SinkMass, MeanEntropy, Recall, OutputError };
const char* overviewMetricName(OverviewMetric metric);

struct OverviewRequest {
    OverviewMetric metric = OverviewMetric::SinkMass;
    VariantSelection variant;
    double density = 0.1;
};

struct ExportRequest {
    QString path;
    TileJob job;         // rect from key is ignored; the rect below is used
    int queryBegin = 0, queryEnd = 0, keyBegin = 0, keyEnd = 0;
    int width = 1024, height = 1024;
    bool logarithmic = false;
    double decades = 6.0;
    int colormap = 0;
};

class ComputeSession : public QObject {
    Q_OBJECT
public:
    explicit ComputeSession(const std::string& backendName = "auto", QObject* parent = nullptr);
    ~ComputeSession() override;

    // UI thread API: each call returns at once.
    void UI_open(const QString& path);
    void UI_selectHead(int layer, int head);
    void UI_evaluateVariant(int layer, int head, const VariantSelection& variant);
    void UI_requestTiles(std::vector<TileJob> jobs);  // replaces the pending list
    void UI_hover(int layer, int head, int query, int key, const VariantSelection& variant);
    void UI_startOverview(const OverviewRequest& request);
    void UI_exportImage(const ExportRequest& request);
    void UI_cancelLongJob();
    QString backendName() const;

signals:
    void backendReady(const QString& name);
    void opened(std::shared_ptr<const CaptureSummary> summary);
    void headReady(std::shared_ptr<const HeadSnapshot> head);
    void variantReady(std::shared_ptr<const VariantResult> result);
    void tileReady(std::shared_ptr<const TileResult> result);
    void hoverReady(std::shared_ptr<const HoverResult> result);
    void overviewCell(int layer, int head, double value);
    void overviewFinished(bool cancelled);
    void exportFinished(const QString& path, const QString& error);
    void progress(const QString& stage, double fraction);
    void jobFinished();
    void failed(const QString& message);

private:
    struct State;
    void CT_run();
    void post(const std::string& tag, std::function<void()> job);
    template <typename F>
    void toUi(F&& f);

    std::unique_ptr<State> m_state;  // touched only by the compute thread
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::map<std::string, std::function<void()>> m_pending;  // by tag; replaced by newer requests
    std::deque<TileJob> m_tileJobs;
    bool m_overviewActive = false;
    bool m_stop = false;
    QString m_backendName;
    std::thread m_thread;
};

}  // namespace attnscope::views
