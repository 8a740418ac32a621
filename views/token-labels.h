// Token labels for the map axes: display text of a token piece (tokenizer markers made visible,
// control characters escaped, long pieces shortened) and which rows/columns get a label at a zoom.
#pragma once

#include <string>

namespace attnscope::views {

// "Ġthe" -> " the", "▁the" -> " the", "\n" -> "\\n"; at most maxChars characters (UTF-8 aware).
std::string tokenDisplayText(const std::string& piece, int maxChars = 12);

// Smallest cell size (pixels) at which labels are drawn: below it the text would overlap.
constexpr double kMinLabelCellPixels = 11.0;

}  // namespace attnscope::views
