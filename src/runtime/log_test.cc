// Tests for escaping guest text in the log.
#include "runtime/log.h"

#include <gtest/gtest.h>

namespace edgelab::runtime {
namespace {

TEST(GuestTextTest, LineBreaksAndControlBytesCannotForgeLogLines) {
  EXPECT_EQ(GuestText("ok\nGET / 200 0.1ms isolate=1"), "ok\\nGET / 200 0.1ms isolate=1");
  EXPECT_EQ(GuestText("a\rb\x01"
                      "c\td"),
            "a\\rb\\x01c\td");
}

TEST(GuestTextTest, LongTextIsCutAndSaysHowMuchWasDropped) {
  std::string out = GuestText(std::string(20000, 'x'));
  EXPECT_EQ(out.substr(0, 16384), std::string(16384, 'x'));
  EXPECT_EQ(out.substr(16384), "... (3616 more bytes)");
}

}  // namespace
}  // namespace edgelab::runtime
