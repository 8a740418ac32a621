// The compute thread: a loop over tagged requests (latest per tag wins), then queued tiles, then one
// step of the overview scan at a time, so interactive requests never wait for a whole overview.
#include "compute-session.h"

#include <QMetaObject>
#include <QImage>
#include <QSaveFile>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "attnscope/analysis/dense-statistics-cache.h"
#include "attnscope/backend.h"
#include "attnscope/colormap.h"
#include "attnscope/io/capture-reader.h"
#include "pyramid-base.h"

namespace attnscope::views {

const char* overviewMetricName(OverviewMetric metric) {
    switch (metric) {
        case OverviewMetric::SinkMass: return "sink mass (token 0)";
        case OverviewMetric::MeanEntropy: return "mean entropy (nats)";
        case OverviewMetric::Recall: return "recall";
        case OverviewMetric::OutputError: return "output error";
    }
    return "";
}

namespace {

double millisSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

// Progress of the current long job, forwarded to the UI at most every 50 ms.
class SessionJob : public JobControl {
public:
    explicit SessionJob(ComputeSession* session) : m_session(session) {}
    void report(std::string_view stage, double fraction) override {
        const auto now = std::chrono::steady_clock::now();
        if (fraction < 1.0 && now - m_last < std::chrono::milliseconds(50)) return;
        m_last = now;
        QMetaObject::invokeMethod(
            m_session, [s = m_session, st = QString::fromUtf8(stage.data(), static_cast<int>(stage.size())),
                        fraction] { emit s->progress(st, fraction); },
            Qt::QueuedConnection);
    }

private:
    ComputeSession* m_session;
    std::chrono::steady_clock::time_point m_last{};
};

struct ComputeSession::State {
    std::unique_ptr<Backend> backend;
    std::optional<CaptureReader> reader;
    std::shared_ptr<const CaptureSummary> summary;
    // The current head and its dense statistics.
    int layer = -1, head = -1;
    HeadTensors tensors;
    std::shared_ptr<const HeadStatistics> dense;
    // Every head's dense statistics computed since the capture was opened, while they fit the
    // cache's budget: switching back to a head costs no recomputation.
    analysis::DenseStatisticsCache denseCache;
    // The current variant applied to the current head.
    uint64_t variantHash = 0;
    std::optional<VariantPlan> plan;
    std::optional<VariantEvaluation> evaluation;
    // Hover: the last row's weights, so moving along a row costs no recomputation.
    int hoverLayer = -1, hoverHead = -1, hoverQuery = -1;
    std::vector<float> hoverRow;
    // Overview scan cursor.
    OverviewRequest overview;
    int overviewNext = 0;
    std::shared_ptr<SessionJob> job;

    // Makes (l, h) the current head: its tensors from the capture and its dense statistics (from
    // the cache when they were computed before). A cancelled job leaves no current head. Returns
    // whether the statistics were there already.
    bool selectHead(int l, int h, JobControl* control = nullptr) {
        if (layer == l && head == h) return true;
        tensors = reader->loadHead(l, h);
        layer = head = -1;
        const bool reused = denseCache.contains(l, h);
        dense = denseCache.get(l, h, tensors, *backend, control);
        layer = l;
        head = h;
        variantHash = 0;
        plan.reset();
        evaluation.reset();
        return reused;
    }
};

ComputeSession::ComputeSession(const std::string& backendName, QObject* parent)
    : QObject(parent), m_state(std::make_unique<State>()) {
    m_thread = std::thread([this, backendName] {
        try {
            m_state->backend = createBackend(backendName);
        } catch (const std::exception& e) {
            toUi([this, msg = QString::fromStdString(e.what())] { emit failed("No compute backend: " + msg); });
            return;
        }
        const QString name = QString::fromStdString(m_state->backend->name());
        {
            std::lock_guard lock(m_mutex);
            m_backendName = name;
        }
        toUi([this, name] { emit backendReady(name); });
        CT_run();
    });
}

ComputeSession::~ComputeSession() {
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
        if (m_state->job) m_state->job->cancel();
    }
    m_wake.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

QString ComputeSession::backendName() const {
    std::lock_guard lock(const_cast<std::mutex&>(m_mutex));
    return m_backendName;
}

template <typename F>
void ComputeSession::toUi(F&& f) {
    QMetaObject::invokeMethod(this, std::forward<F>(f), Qt::QueuedConnection);
}

void ComputeSession::post(const std::string& tag, std::function<void()> job) {
    {
        std::lock_guard lock(m_mutex);
        m_pending[tag] = std::move(job);
    }
    m_wake.notify_one();
}

void ComputeSession::CT_run() {
    // Lower rank runs first: a new file or head matters more than tiles of the old one.
    static const char* kOrder[] = {"open", "head", "variant", "hover", "export"};
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [&] { return m_stop || !m_pending.empty() || !m_tileJobs.empty() || m_overviewActive; });
            if (m_stop) return;
            for (const char* tag : kOrder) {
                auto it = m_pending.find(tag);
                if (it != m_pending.end()) {
                    job = std::move(it->second);
                    m_pending.erase(it);
                    break;
                }
            }
            if (!job && !m_pending.empty()) {
                job = std::move(m_pending.begin()->second);
                m_pending.erase(m_pending.begin());
            }
            if (!job && !m_tileJobs.empty()) {
                TileJob tile = m_tileJobs.front();
                m_tileJobs.pop_front();
                job = [this, tile] {
                    State& s = *m_state;
                    const auto start = std::chrono::steady_clock::now();
                    if (!s.reader) return;
                    // Ensure head and variant (the UI may have moved on; the tile is still cached).
                    s.selectHead(tile.key.layer, tile.key.head);
                    const bool needsVariant = tile.key.quantity != TileQuantity::DenseWeight;
                    if (needsVariant && s.variantHash != tile.variant.hash()) {
                        const Variant* v = findVariant(tile.variant.id);
                        if (!v) return;
                        s.plan = v->plan(s.tensors, resolveParams(*v, tile.variant.params), *s.backend);
                        s.evaluation = s.backend->evaluateVariant(s.tensors, *s.dense, *s.plan);
                        s.variantHash = tile.variant.hash();
                    }
                    TileRequest request = tileRequest(tile.key.tile, s.tensors.seqLen);
                    request.pooling = tile.key.pooling;
                    request.quantity = tile.key.quantity;
                    if (request.width <= 0 || request.height <= 0) return;
                    auto cached = std::make_shared<CachedTile>();
                    cached->tile = s.backend->computeTile(s.tensors, *s.dense, request, needsVariant ? &*s.plan : nullptr,
                                                          needsVariant ? &*s.evaluation : nullptr);
                    for (float v : cached->tile.values)
                        if (std::isfinite(v)) cached->maxFinite = std::max(cached->maxFinite, std::abs(v));
                    auto result = std::make_shared<TileResult>();
                    result->key = tile.key;
                    result->tile = std::move(cached);
                    result->millis = millisSince(start);
                    toUi([this, result] { emit tileReady(result); });
                };
            }
            if (!job && m_overviewActive) {
                job = [this] {
                    State& s = *m_state;
                    if (!s.reader) return;
                    const CaptureInfo& info = s.reader->info();
                    const int total = info.numLayers * info.numQueryHeads;
                    const int index = s.overviewNext++;
                    if (index >= total) {
                        {
                            std::lock_guard lock(m_mutex);
                            m_overviewActive = false;
                        }
                        toUi([this] {
                            emit overviewFinished(false);
                            emit jobFinished();
                        });
                        return;
                    }
                    const int layer = index / info.numQueryHeads, head = index % info.numQueryHeads;
                    const HeadTensors tensors = s.reader->loadHead(layer, head);
                    const OverviewRequest& r = s.overview;
                    StatisticsRequest what;
                    what.blocks = false;
                    what.output = r.metric == OverviewMetric::Recall || r.metric == OverviewMetric::OutputError;
                    const HeadStatistics stats = s.backend->computeStatistics(tensors, what);
                    double value = 0.0;
                    if (r.metric == OverviewMetric::SinkMass) {
                        value = stats.columnSums.empty() ? 0.0 : stats.columnSums[0] / tensors.seqLen;
                    } else if (r.metric == OverviewMetric::MeanEntropy) {
                        double sum = 0.0;
                        for (double e : stats.rowEntropy) sum += e;
                        value = stats.rowEntropy.empty() ? 0.0 : sum / stats.rowEntropy.size();
                    } else {
                        const Variant* v = findVariant(r.variant.id);
                        if (!v) throw ParamError("unknown variant '" + r.variant.id + "'");
                        const ParamValues base = resolveParams(*v, r.variant.params);
                        const ParamValues params = v->budgetParameter().empty()
                                                       ? base
                                                       : paramsForDensity(*v, tensors, base, r.density, *s.backend);
                        const VariantPlan plan = v->plan(tensors, params, *s.backend);
                        const VariantEvaluation eval = s.backend->evaluateVariant(tensors, stats, plan);
                        value = r.metric == OverviewMetric::Recall ? eval.metrics.recall : eval.metrics.outputError;
                    }
                    toUi([this, layer, head, value, index, total] {
                        emit overviewCell(layer, head, value);
                        emit progress("overview", static_cast<double>(index + 1) / total);
                    });
                };
            }
        }
        if (!job) continue;
        try {
            job();
        } catch (const JobCancelled&) {
            toUi([this] { emit jobFinished(); });
        } catch (const std::exception& e) {
            toUi([this, msg = QString::fromStdString(e.what())] {
                emit failed(msg);
                emit jobFinished();
            });
        }
    }
}

void ComputeSession::UI_open(const QString& path) {
    {
        std::lock_guard lock(m_mutex);
        m_tileJobs.clear();
        m_overviewActive = false;
        m_pending.clear();
    }
    post("open", [this, path] {
        State& s = *m_state;
        s.reader.reset();
        s.layer = s.head = -1;
        s.dense.reset();
        s.denseCache = analysis::DenseStatisticsCache{};
        s.hoverQuery = -1;
        s.reader.emplace(CaptureReader::open(path.toStdString()));
        auto summary = std::make_shared<CaptureSummary>();
        summary->info = s.reader->info();
        s.summary = summary;
        toUi([this, summary] { emit opened(summary); });
    });
}

void ComputeSession::UI_selectHead(int layer, int head) {
    post("head", [this, layer, head] {
        State& s = *m_state;
        if (!s.reader) return;
        const auto start = std::chrono::steady_clock::now();
        auto job = std::make_shared<SessionJob>(this);
        {
            std::lock_guard lock(m_mutex);
            s.job = job;
        }
        const bool reused = s.selectHead(layer, head, job.get());
        {
            std::lock_guard lock(m_mutex);
            s.job.reset();
        }

        auto snap = std::make_shared<HeadSnapshot>();
        snap->layer = layer;
        snap->head = head;
        snap->statisticsReused = reused;
        snap->seqLen = s.tensors.seqLen;
        snap->config = s.tensors.config;
        PyramidBaseImage base = pyramidBaseImage(s.dense->blocks, s.tensors.config, s.tensors.seqLen);
        snap->baseCellsPerBlock = base.cellsPerBlock;
        snap->baseRows = base.rows;
        snap->baseCols = base.cols;
        snap->baseMean = std::move(base.mean);
        snap->baseMax = std::move(base.max);
        snap->columnSums = s.dense->columnSums;
        snap->rowEntropy = s.dense->rowEntropy;
        double entropy = 0.0;
        for (double e : s.dense->rowEntropy) entropy += e;
        snap->meanEntropy = s.dense->rowEntropy.empty() ? 0.0 : entropy / s.dense->rowEntropy.size();
        snap->sinkMass = s.dense->columnSums.empty() ? 0.0 : s.dense->columnSums[0] / s.tensors.seqLen;
        snap->millis = millisSince(start);
        toUi([this, snap] {
            emit headReady(snap);
            emit jobFinished();
        });
    });
}

void ComputeSession::UI_evaluateVariant(int layer, int head, const VariantSelection& variant) {
    post("variant", [this, layer, head, variant] {
        State& s = *m_state;
        if (!s.reader || s.layer != layer || s.head != head || variant.id.empty()) return;
        const auto start = std::chrono::steady_clock::now();
        const Variant* v = findVariant(variant.id);
        if (!v) throw ParamError("unknown variant '" + variant.id + "'");
        s.plan = v->plan(s.tensors, resolveParams(*v, variant.params), *s.backend);
        s.evaluation = s.backend->evaluateVariant(s.tensors, *s.dense, *s.plan);
        s.variantHash = variant.hash();
        auto result = std::make_shared<VariantResult>();
        result->layer = layer;
        result->head = head;
        result->variant = variant;
        result->metrics = s.evaluation->metrics;
        result->millis = millisSince(start);
        toUi([this, result] { emit variantReady(result); });
    });
}

void ComputeSession::UI_requestTiles(std::vector<TileJob> jobs) {
    {
        std::lock_guard lock(m_mutex);
        m_tileJobs.assign(jobs.begin(), jobs.end());
    }
    m_wake.notify_one();
}

void ComputeSession::UI_hover(int layer, int head, int query, int key, const VariantSelection& variant) {
    post("hover", [this, layer, head, query, key, variant] {
        State& s = *m_state;
        if (!s.reader || s.layer != layer || s.head != head) return;
        const int T = s.tensors.seqLen;
        if (query < 0 || query >= T || key < 0 || key >= T) return;
        if (s.hoverLayer != layer || s.hoverHead != head || s.hoverQuery != query) {
            TileRequest row;
            row.queryBegin = query;
            row.queryEnd = query + 1;
            row.keyBegin = 0;
            row.keyEnd = T;
            row.width = T;
            row.height = 1;
            s.hoverRow = s.backend->computeTile(s.tensors, *s.dense, row).values;
            s.hoverLayer = layer;
            s.hoverHead = head;
            s.hoverQuery = query;
        }
        auto result = std::make_shared<HoverResult>();
        result->layer = layer;
        result->head = head;
        result->query = query;
        result->key = key;
        const float w = s.hoverRow[key];
        result->visible = !std::isnan(w);
        result->weight = result->visible ? w : 0.0f;
        int rank = 1, visible = 0;
        for (float x : s.hoverRow) {
            if (std::isnan(x)) continue;
            ++visible;
            if (x > w) ++rank;
        }
        result->rank = result->visible ? rank : 0;
        result->visibleKeys = visible;
        if (!variant.id.empty() && s.variantHash == variant.hash() && s.plan && result->visible) {
            TileRequest cell;
            cell.queryBegin = query;
            cell.queryEnd = query + 1;
            cell.keyBegin = key;
            cell.keyEnd = key + 1;
            cell.width = cell.height = 1;
            cell.quantity = TileQuantity::KeptFraction;
            const PooledTile kept = s.backend->computeTile(s.tensors, *s.dense, cell, &*s.plan, &*s.evaluation);
            cell.quantity = TileQuantity::VariantWeight;
            const PooledTile weight = s.backend->computeTile(s.tensors, *s.dense, cell, &*s.plan, &*s.evaluation);
            result->hasVariant = true;
            result->kept = kept.values[0] > 0.5f;
            result->variantWeight = weight.values[0];
        }
        toUi([this, result] { emit hoverReady(result); });
    });
}

void ComputeSession::UI_startOverview(const OverviewRequest& request) {
    {
        std::lock_guard lock(m_mutex);
        m_overviewActive = false;
    }
    post("overview-start", [this, request] {
        State& s = *m_state;
        s.overview = request;
        s.overviewNext = 0;
        std::lock_guard lock(m_mutex);
        m_overviewActive = s.reader.has_value();
    });
}

void ComputeSession::UI_exportImage(const ExportRequest& request) {
    post("export", [this, request] {
        State& s = *m_state;
        if (!s.reader) return;
        auto job = std::make_shared<SessionJob>(this);
        {
            std::lock_guard lock(m_mutex);
            s.job = job;
        }
        s.selectHead(request.job.key.layer, request.job.key.head, job.get());
        const bool needsVariant = request.job.key.quantity != TileQuantity::DenseWeight;
        if (needsVariant && s.variantHash != request.job.variant.hash()) {
            const Variant* v = findVariant(request.job.variant.id);
            if (!v) throw ParamError("unknown variant");
            s.plan = v->plan(s.tensors, resolveParams(*v, request.job.variant.params), *s.backend);
            s.evaluation = s.backend->evaluateVariant(s.tensors, *s.dense, *s.plan, job.get());
            s.variantHash = request.job.variant.hash();
        }
        TileRequest r;
        r.queryBegin = request.queryBegin;
        r.queryEnd = request.queryEnd;
        r.keyBegin = request.keyBegin;
        r.keyEnd = request.keyEnd;
        r.width = request.width;
        r.height = request.height;
        r.pooling = request.job.key.pooling;
        r.quantity = request.job.key.quantity;
        const PooledTile tile = s.backend->computeTile(s.tensors, *s.dense, r, needsVariant ? &*s.plan : nullptr,
                                                       needsVariant ? &*s.evaluation : nullptr, job.get());
        const bool signedValues = r.quantity == TileQuantity::Difference;
        const ValueScale scale = fitValueScale(tile.values, request.logarithmic, signedValues, request.decades);
        const std::vector<uint8_t> rgb =
            colorizeValues(tile.values, scale, static_cast<ColormapName>(request.colormap));
        QImage image(tile.width, tile.height, QImage::Format_RGB888);
        for (int y = 0; y < tile.height; ++y)
            std::copy_n(rgb.data() + static_cast<size_t>(y) * tile.width * 3, tile.width * 3, image.scanLine(y));
        // QSaveFile writes a temporary file and renames it on commit: never a half-written PNG.
        QSaveFile file(request.path);
        QString error;
        if (!file.open(QIODevice::WriteOnly) || !image.save(&file, "PNG") || !file.commit())
            error = "cannot write " + request.path + ": " + file.errorString();
        {
            std::lock_guard lock(m_mutex);
            s.job.reset();
        }
        toUi([this, path = request.path, error] {
            emit exportFinished(path, error);
            emit jobFinished();
        });
    });
}

void ComputeSession::UI_cancelLongJob() {
    std::lock_guard lock(m_mutex);
    if (m_overviewActive) {
        m_overviewActive = false;
        QMetaObject::invokeMethod(
            this, [this] {
                emit overviewFinished(true);
                emit jobFinished();
            },
            Qt::QueuedConnection);
    }
    if (m_state->job) m_state->job->cancel();
}

}  // namespace attnscope::views
