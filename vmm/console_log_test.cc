#include "vmm/console_log.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace ktstr::vmm {
namespace {

TEST(ConsoleLogTest, RingKeepsTheTailWithAbsoluteOffsets) {
  auto log = ConsoleLog::Create("", /*file_limit=*/0, /*ring_bytes=*/8);
  ASSERT_TRUE(log.ok());
  (*log)->Append("abcdef");
  EXPECT_EQ((*log)->Text(), "abcdef");
  (*log)->Append("ghijkl");
  EXPECT_EQ((*log)->size(), 12u);
  EXPECT_EQ((*log)->Text(), "efghijkl");
  EXPECT_EQ((*log)->Excerpt(6, 9), "ghi");
  EXPECT_EQ((*log)->Excerpt(0, 6), "ef");  // clipped to what the ring holds
  EXPECT_EQ((*log)->Excerpt(10, 100), "kl");
}

TEST(ConsoleLogTest, FileIsBoundedAndSaysSo) {
  const std::string path =
      std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") + "/console_log_test.log";
  {
    auto log = ConsoleLog::Create(path, /*file_limit=*/5);
    ASSERT_TRUE(log.ok()) << log.status();
    (*log)->Append("0123");
    (*log)->Append("456789");
    EXPECT_EQ((*log)->Text(), "0123456789");
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str().substr(0, 5), "01234");
  EXPECT_NE(ss.str().find("limit reached"), std::string::npos);
  unlink(path.c_str());
}

TEST(ConsoleLogTest, UnwritablePathIsAnError) {
  EXPECT_FALSE(ConsoleLog::Create("/nonexistent-dir/x.log", 10).ok());
}

}  // namespace
}  // namespace ktstr::vmm
