#include "kernel_cache/build_progress_printer.h"

#include "gtest/gtest.h"

namespace ktstr::kcache {
namespace {

BuildProgress At(BuildPhase phase, absl::Duration elapsed, int64_t done, int64_t total,
                 std::string detail) {
  return BuildProgress{phase, elapsed, done, total, std::move(detail)};
}

TEST(FormatBuildProgressTest, BarWhenTheTotalIsKnown) {
  EXPECT_EQ(FormatBuildProgress(At(BuildPhase::kCompile, absl::Seconds(192.7), 300, 1000,
                                   "CC      kernel/sched/ext.o")),
            "[compile 3m12s] [#########.....................] 30% CC      kernel/sched/ext.o");
}

TEST(FormatBuildProgressTest, ObjectCountWithoutATotalAndNothingWithoutWork) {
  EXPECT_EQ(FormatBuildProgress(At(BuildPhase::kCompile, absl::Seconds(5), 42, 0, "LD vmlinux")),
            "[compile 5s] 42 objects LD vmlinux");
  EXPECT_EQ(FormatBuildProgress(At(BuildPhase::kConfigure, absl::ZeroDuration(), 0, 0, "")),
            "[configure 0]");
}

TEST(FormatBuildProgressTest, OvershootIsClampedAndLongDetailCut) {
  // The total comes from the previous build's log; this build may compile more objects.
  std::string line = FormatBuildProgress(
      At(BuildPhase::kCompile, absl::Minutes(1), 1200, 1000, std::string(200, 'x')));
  EXPECT_NE(line.find("] 100% "), std::string::npos) << line;
  EXPECT_EQ(line.size(), std::string("[compile 1m] [").size() + 30 + std::string("] 100% ").size() + 60);
}

}  // namespace
}  // namespace ktstr::kcache
