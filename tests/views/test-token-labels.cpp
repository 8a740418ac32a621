// Token label display text.
#include <gtest/gtest.h>

#include "token-labels.h"

using attnscope::views::tokenDisplayText;

TEST(TokenLabels, TokenizerSpaceMarkersBecomeSpaces) {
    EXPECT_EQ(tokenDisplayText("\xC4\xA0the"), " the");      // GPT-2 byte-level BPE
    EXPECT_EQ(tokenDisplayText("\xE2\x96\x81the"), " the");  // SentencePiece
    EXPECT_EQ(tokenDisplayText("##ing"), "##ing");           // WordPiece stays as is
}

TEST(TokenLabels, ControlCharactersAreEscaped) {
    EXPECT_EQ(tokenDisplayText("\n"), "\\n");
    EXPECT_EQ(tokenDisplayText("a\tb"), "a\\tb");
}

TEST(TokenLabels, LongPiecesAreShortenedOnCharacterBoundaries) {
    EXPECT_EQ(tokenDisplayText("abcdefghijklmnop", 5), "abcde~");
    // Three 2-byte characters, cut after two: never half a UTF-8 sequence.
    EXPECT_EQ(tokenDisplayText("\xC3\xA9\xC3\xA9\xC3\xA9", 2), "\xC3\xA9\xC3\xA9~");
    EXPECT_EQ(tokenDisplayText("short", 12), "short");
}
