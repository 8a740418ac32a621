// Display text for token pieces on the map axes.
#include "token-labels.h"

namespace attnscope::views {

std::string tokenDisplayText(const std::string& piece, int maxChars) {
    std::string out;
    int chars = 0;
    for (size_t i = 0; i < piece.size() && chars < maxChars;) {
        const unsigned char c = static_cast<unsigned char>(piece[i]);
        // GPT-2 byte-level BPE marks a leading space with U+0120 (C4 A0), SentencePiece with U+2581 (E2 96 81).
        if (c == 0xC4 && i + 1 < piece.size() && static_cast<unsigned char>(piece[i + 1]) == 0xA0) {
            out += ' ';
            i += 2;
        } else if (c == 0xE2 && i + 2 < piece.size() && static_cast<unsigned char>(piece[i + 1]) == 0x96 &&
                   static_cast<unsigned char>(piece[i + 2]) == 0x81) {
            out += ' ';
            i += 3;
        } else if (c == '\n') {
            out += "\\n";
            ++i;
        } else if (c == '\t') {
            out += "\\t";
            ++i;
        } else if (c < 0x20) {
            out += '?';
            ++i;
        } else {
            size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
            if (i + len > piece.size()) len = 1;
            out.append(piece, i, len);
            i += len;
        }
        ++chars;
    }
    if (chars >= maxChars && out.size() < piece.size()) out += "~";
    return out;
}

}  // namespace attnscope::views
