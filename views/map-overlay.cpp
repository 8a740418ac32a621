// ImGui overlay drawing. Rotated key labels: ImGui 1.86 has no rotated text, so the label's
// vertices are rotated in place right after AddText.
#include "map-overlay.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "attnscope/colormap.h"
#include "compute-session.h"
#include "token-labels.h"

namespace attnscope::views {

namespace {
ImU32 toImColor(const Rgb& c) { return IM_COL32(c[0], c[1], c[2], 255); }

void rotateSince(ImDrawList* list, int firstVertex, ImVec2 pivot) {
    // -90 degrees: text reads bottom to top.
    for (int i = firstVertex; i < list->VtxBuffer.Size; ++i) {
        ImVec2& p = list->VtxBuffer[i].pos;
        const float dx = p.x - pivot.x, dy = p.y - pivot.y;
        p = ImVec2(pivot.x + dy, pivot.y - dx);
    }
}
}  // namespace

int drawTokenLabels(ImDrawList* list, const MapViewport& viewport, const PixelRect& pane,
                    const std::vector<std::string>& tokens, bool keysOnTop, bool queriesOnLeft) {
    const double cellPixels = viewport.pixelsPerCell();
    if (cellPixels < kMinLabelCellPixels || tokens.empty()) return 0;
    const CellRect cells = viewport.visibleCells();
    const int T = static_cast<int>(tokens.size());
    const ImU32 color = IM_COL32(230, 230, 230, 255);
    const float fontSize = ImGui::GetFontSize();
    int drawn = 0;
    const int maxChars = 12;
    if (queriesOnLeft) {
        list->PushClipRect(ImVec2(pane.x - 96, pane.y), ImVec2(pane.x, pane.bottom()), false);
        for (int q = static_cast<int>(std::floor(cells.y0)); q < std::min(T, static_cast<int>(std::ceil(cells.y1))); ++q) {
            const std::string text = tokenDisplayText(tokens[q], maxChars);
            const float cy = pane.y + static_cast<float>(viewport.pixelY(q + 0.5));
            const ImVec2 size = ImGui::CalcTextSize(text.c_str());
            list->AddText(ImVec2(pane.x - 4 - size.x, cy - fontSize * 0.5f), color, text.c_str());
            ++drawn;
        }
        list->PopClipRect();
    }
    if (keysOnTop) {
        list->PushClipRect(ImVec2(pane.x, pane.y - 96), ImVec2(pane.right(), pane.y), false);
        for (int k = static_cast<int>(std::floor(cells.x0)); k < std::min(T, static_cast<int>(std::ceil(cells.x1))); ++k) {
            const std::string text = tokenDisplayText(tokens[k], maxChars);
            const float cx = pane.x + static_cast<float>(viewport.pixelX(k + 0.5));
            // Lay the text out horizontally ending at the pivot, then rotate it up around the pivot.
            const ImVec2 pivot(cx - fontSize * 0.5f, pane.y - 4);
            const int first = list->VtxBuffer.Size;
            list->AddText(ImVec2(pivot.x, pivot.y), color, text.c_str());
            rotateSince(list, first, pivot);
            ++drawn;
        }
        list->PopClipRect();
    }
    return drawn;
}

void drawColorbar(ImDrawList* list, const PixelRect& bar, const MapColorParams& color, const char* title) {
    const auto map = static_cast<ColormapName>(color.colormap);
    const int steps = std::max(1, static_cast<int>(bar.h));
    for (int i = 0; i < steps; ++i) {
        // Top = 1 (largest value), bottom = 0.
        const double t = 1.0 - (i + 0.5) / steps;
        const float y0 = bar.y + i, y1 = bar.y + i + 1;
        list->AddRectFilled(ImVec2(bar.x, y0), ImVec2(bar.right(), y1), toImColor(colormapColor(map, t)));
    }
    list->AddRect(ImVec2(bar.x - 1, bar.y - 1), ImVec2(bar.right() + 1, bar.bottom() + 1), IM_COL32(200, 200, 200, 255));
    const ImU32 text = IM_COL32(230, 230, 230, 255);
    char buf[64];
    auto tick = [&](double t, double value) {
        const float y = bar.y + static_cast<float>((1.0 - t) * bar.h);
        list->AddLine(ImVec2(bar.right(), y), ImVec2(bar.right() + 4, y), text);
        std::snprintf(buf, sizeof buf, "%.3g", value);
        list->AddText(ImVec2(bar.right() + 6, y - ImGui::GetFontSize() * 0.5f), text, buf);
    };
    const double maxValue = color.maxValue;
    if (color.signedValues && !color.logarithmic) {
        tick(1.0, maxValue);
        tick(0.5, 0.0);
        tick(0.0, -maxValue);
    } else if (color.logarithmic && !color.signedValues) {
        const int decades = std::max(1, static_cast<int>(color.decades));
        const int every = decades > 6 ? 2 : 1;
        for (int d = 0; d <= decades; d += every) tick(1.0 - static_cast<double>(d) / color.decades, maxValue * std::pow(10.0, -d));
    } else if (color.logarithmic) {
        tick(1.0, maxValue);
        tick(0.5, 0.0);
        tick(0.0, -maxValue);
    } else {
        for (int i = 0; i <= 4; ++i) tick(i / 4.0, maxValue * i / 4.0);
    }
    if (title) {
        const ImVec2 size = ImGui::CalcTextSize(title);
        list->AddText(ImVec2(bar.x + bar.w * 0.5f - size.x * 0.5f, bar.y - size.y - 6), text, title);
    }
}

void drawHoverReadout(const HoverResult& hover, const std::vector<std::string>& tokens, const std::string& variantName) {
    ImGui::BeginTooltip();
    auto token = [&](int i) {
        return i >= 0 && i < static_cast<int>(tokens.size()) ? tokenDisplayText(tokens[i], 24) : std::string("?");
    };
    ImGui::Text("query %d  \"%s\"", hover.query, token(hover.query).c_str());
    ImGui::Text("key   %d  \"%s\"", hover.key, token(hover.key).c_str());
    if (!hover.visible) {
        ImGui::TextUnformatted("masked by the model (not visible)");
    } else {
        ImGui::Text("weight %.6g", hover.weight);
        ImGui::Text("rank %d of %d in the row", hover.rank, hover.visibleKeys);
        if (hover.hasVariant) {
            ImGui::Text("%s: %s (weight %.6g)", variantName.c_str(), hover.kept ? "kept" : "dropped", hover.variantWeight);
        }
    }
    ImGui::EndTooltip();
}

void drawHud(const HudStats& s, bool* open) {
    ImGui::SetNextWindowPos(ImVec2(ImGui::GetIO().DisplaySize.x - 300, ImGui::GetIO().DisplaySize.y - 170),
                            ImGuiCond_FirstUseEver);
    ImGui::SetNextWindowBgAlpha(0.75f);
    if (ImGui::Begin("HUD (H)", open, ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoFocusOnAppearing)) {
        ImGui::Text("frame %.2f ms (max %.2f), %.0f fps", s.frameMs, s.frameMsMax, s.frameMs > 0 ? 1000.0 / s.frameMs : 0.0);
        ImGui::Text("record %.3f ms on the UI thread", s.recordMs);
        ImGui::Text("level %d, %.3g cells/pixel", s.level, s.cellsPerPixel);
        ImGui::Text("tiles: %zu wanted, %zu missing, %zu cached, %zu textures", s.tilesWanted, s.tilesMissing,
                    s.tilesCached, s.textures);
        ImGui::Text("%s | %s", s.backend.c_str(), s.device.c_str());
    }
    ImGui::End();
}

}  // namespace attnscope::views
