// `attnscope-cli render`: one head's attention map (dense, a variant's weights, its mask, the
// difference or the dropped mass) as a PNG whose pixels are the engine's pooled tile through a
// colormap — the same tile the map view shows.
#include <cmath>
#include <fstream>
#include <iostream>
#include <regex>

#include "attnscope/colormap.h"
#include "commands.h"
#include "png-writer.h"
#include "variant-selection.h"

namespace attnscope::cli {

namespace {

struct RenderOptions {
    HeadSelection head;
    std::string variant;
    std::vector<std::string> params;
    double density = 0.0;
    std::string show;
    int size = 512;
    int width = 0;
    int height = 0;
    std::string region;
    std::string pooling = "mean";
    bool log = false;
    double decades = 6.0;
    std::string colormap;
    double vmax = 0.0;
    std::string output;
    std::string values;
};

TileQuantity parseShow(const std::string& show) {
    if (show == "dense") return TileQuantity::DenseWeight;
    if (show == "variant") return TileQuantity::VariantWeight;
    if (show == "mask") return TileQuantity::KeptFraction;
    if (show == "difference") return TileQuantity::Difference;
    if (show == "dropped") return TileQuantity::DroppedMass;
    throw UsageError("--show must be dense, variant, mask, difference or dropped, got '" + show + "'");
}

// "q0:q1,k0:k1" -> rectangle; empty -> the whole map.
void parseRegion(const std::string& text, int seqLen, TileRequest& r) {
    r.queryBegin = r.keyBegin = 0;
    r.queryEnd = r.keyEnd = seqLen;
    if (text.empty()) return;
    static const std::regex pattern(R"(^(\d+):(\d+),(\d+):(\d+)$)");
    std::smatch m;
    if (!std::regex_match(text, m, pattern))
        throw UsageError("--region must look like q0:q1,k0:k1 (rows then keys, half-open), got '" + text + "'");
    r.queryBegin = std::stoi(m[1]);
    r.queryEnd = std::stoi(m[2]);
    r.keyBegin = std::stoi(m[3]);
    r.keyEnd = std::stoi(m[4]);
    if (r.queryBegin >= r.queryEnd || r.keyBegin >= r.keyEnd || r.queryEnd > seqLen || r.keyEnd > seqLen)
        throw UsageError("--region " + text + " must be non-empty and inside 0.." + std::to_string(seqLen));
}

void writeValues(const std::string& path, const PooledTile& tile) {
    std::ostringstream out;
    out.precision(9);
    for (int y = 0; y < tile.height; ++y) {
        for (int x = 0; x < tile.width; ++x) out << (x ? "," : "") << tile.at(x, y);
        out << "\n";
    }
    writeFileAtomically(path, out.str());
}

}  // namespace

Command addRenderCommand(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<RenderOptions>();
    CLI::App* cmd = app.add_subcommand("render", "draw one head's attention map (or a variant's) to a PNG");
    addHeadSelection(*cmd, o->head);
    cmd->add_option("--variant", o->variant, "variant id (see `attnscope-cli variants`)");
    cmd->add_option("--param", o->params, "variant parameter name=value (repeatable)");
    cmd->add_option("--density", o->density, "choose the variant's budget to reach this density (0..1]")->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--show", o->show, "dense | variant | mask | difference | dropped (default: variant when --variant is given)");
    cmd->add_option("--size", o->size, "output width and height in pixels")->capture_default_str()->check(CLI::Range(1, 16384));
    cmd->add_option("--width", o->width, "output width (overrides --size)")->check(CLI::Range(1, 16384));
    cmd->add_option("--height", o->height, "output height (overrides --size)")->check(CLI::Range(1, 16384));
    cmd->add_option("--region", o->region, "rows and keys to draw, q0:q1,k0:k1 (default: all)");
    cmd->add_option("--pooling", o->pooling, "mean or max over the cells of each pixel")
        ->check(CLI::IsMember({"mean", "max"}))->capture_default_str();
    cmd->add_flag("--log", o->log, "logarithmic color scale");
    cmd->add_option("--decades", o->decades, "decades below the maximum shown with --log")->capture_default_str()->check(CLI::Range(0.5, 30.0));
    cmd->add_option("--colormap", o->colormap, "viridis | magma | cividis | diverging (default: viridis; diverging for difference)");
    cmd->add_option("--vmax", o->vmax, "value mapped to the top of the colormap (default: the tile's maximum)");
    cmd->add_option("-o,--output", o->output, "PNG file to write")->required();
    cmd->add_option("--values", o->values, "also write the pooled values as CSV (empty pixels: nan)");
    return {cmd, [o, &global] {
                const CaptureReader reader = CaptureReader::open(o->head.file);
                const HeadTensors head = loadSelectedHead(reader, o->head);
                auto backend = makeBackend(global);
                StderrProgress progress(!global.quiet);

                TileRequest request;
                parseRegion(o->region, head.seqLen, request);
                request.width = o->width > 0 ? o->width : o->size;
                request.height = o->height > 0 ? o->height : o->size;
                request.pooling = o->pooling == "max" ? Pooling::Max : Pooling::Mean;
                request.quantity = parseShow(o->show.empty() ? (o->variant.empty() ? "dense" : "variant") : o->show);
                if (request.quantity != TileQuantity::DenseWeight && o->variant.empty())
                    throw UsageError("--show " + o->show + " needs --variant");
                if (o->variant.empty() && (!o->params.empty() || o->density > 0.0))
                    throw UsageError("--param and --density need --variant");

                const HeadStatistics dense = backend->computeStatistics(head, {}, &progress);
                std::optional<VariantPlan> plan;
                std::optional<VariantEvaluation> eval;
                std::string variantLine;
                if (!o->variant.empty()) {
                    const Variant& variant = requireVariant(o->variant);
                    const ParamValues params = selectParams(variant, o->params, o->density, head, *backend);
                    plan = variant.plan(head, params, *backend);
                    eval = backend->evaluateVariant(head, dense, *plan, &progress);
                    std::ostringstream line;
                    line << ", variant " << variant.id() << " (" << formatParams(params) << "): density "
                         << eval->metrics.density << ", recall " << eval->metrics.recall << ", output error "
                         << eval->metrics.outputError;
                    variantLine = line.str();
                }
                const PooledTile tile = backend->computeTile(head, dense, request, plan ? &*plan : nullptr,
                                                             eval ? &*eval : nullptr, &progress);
                const bool signedValues = request.quantity == TileQuantity::Difference;
                ValueScale scale = fitValueScale(tile.values, o->log, signedValues, o->decades);
                if (o->vmax > 0.0) scale.maxValue = o->vmax;
                ColormapName map = signedValues ? ColormapName::Diverging : ColormapName::Viridis;
                if (!o->colormap.empty()) {
                    const auto parsed = parseColormapName(o->colormap);
                    if (!parsed) throw UsageError("--colormap must be viridis, magma, cividis or diverging, got '" + o->colormap + "'");
                    map = *parsed;
                }
                RgbImage image{tile.width, tile.height, colorizeValues(tile.values, scale, map)};
                writePng(o->output, image);
                if (!o->values.empty()) writeValues(o->values, tile);
                std::cout << "wrote " << o->output << " (" << tile.width << "x" << tile.height << ", "
                          << tileQuantityName(request.quantity) << ", " << poolingName(request.pooling) << " pooling, "
                          << (o->log ? "log" : "linear") << " scale, max " << scale.maxValue << ")" << variantLine << "\n";
                return static_cast<int>(kExitOk);
            }};
}

}  // namespace attnscope::cli
