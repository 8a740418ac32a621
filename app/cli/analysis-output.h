// Shared output of the analysis commands (sinks, sensitivity, prune, report): the capture as a head
// source, CSV tables and JSON documents. The report command writes the same tables to files.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "attnscope/analysis/kv-eviction.h"
#include "attnscope/analysis/sensitivity.h"
#include "attnscope/analysis/sinks.h"
#include "attnscope/io/capture-reader.h"

namespace attnscope::cli {

// Heads straight from the capture, one (layer, query head) slab at a time.
analysis::HeadSource captureHeadSource(const CaptureReader& reader);
analysis::ModelShape captureShape(const CaptureInfo& info);

// Quotes a CSV field when it holds a comma, quote or newline.
std::string csvField(const std::string& text);

// Sinks: per head (layer, head, token0_mean, ...), per (layer, token) and the non-initial sinks.
std::string sinkHeadsCsv(const analysis::ModelSinkReport& report);
std::string sinkTokensCsv(const analysis::ModelSinkReport& report, const CaptureInfo& info);
std::string nonInitialSinksCsv(const analysis::ModelSinkReport& report, const CaptureInfo& info);
nlohmann::json sinkJson(const analysis::ModelSinkReport& report, const CaptureInfo& info);

// Sensitivity: one row per (head, variant, density) point, one row per head (pattern class, needed density
// per variant, candidate recalls), and the model-wide mean recall / output error per (variant, density).
std::string sensitivityPointsCsv(const analysis::ModelSensitivityReport& report);
std::string sensitivityHeadsCsv(const analysis::ModelSensitivityReport& report);
std::string sensitivityCurvesCsv(const analysis::ModelSensitivityReport& report);
nlohmann::json sensitivityJson(const analysis::ModelSensitivityReport& report, const CaptureInfo& info);

// KV eviction: one row per (policy, budget, layer, head) with the kept count and metrics; one row per
// (policy, budget) summary; the survival matrix (token x layer) of one run; kept sets in JSON.
std::string evictionHeadsCsv(const analysis::EvictionReport& report);
std::string evictionSummaryCsv(const analysis::EvictionReport& report);
std::string survivalCsv(const analysis::EvictionReport& report, const analysis::EvictionRun& run, const CaptureInfo& info);
nlohmann::json evictionJson(const analysis::EvictionReport& report, const CaptureInfo& info, bool keptSets);

}  // namespace attnscope::cli
