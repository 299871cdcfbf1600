#include "scheduler_tests/schedulers/scx_fifo_options.h"

#include "gtest/gtest.h"

namespace ktstr::schedulers {
namespace {

TEST(ScxFifoOptions, DefaultsAreAllOff) {
  absl::StatusOr<ScxFifoOptions> o = ParseScxFifoOptions({});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->timeout_ms, 0u);
  EXPECT_EQ(o->stall_after, 0u);
  EXPECT_EQ(o->error_after, 0u);
  EXPECT_TRUE(o->degrade_cgroup.empty());
  EXPECT_FALSE(o->fail_verify);
  EXPECT_FALSE(o->exit_now.has_value());
}

TEST(ScxFifoOptions, ParsesBothValueForms) {
  absl::StatusOr<ScxFifoOptions> o = ParseScxFifoOptions(
      {"--stall-after=100", "--timeout-ms", "5000", "--degrade=cg_1", "--fail-verify",
       "--error-after", "7", "--exit-now=3", "--stats-interval=2"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->stall_after, 100u);
  EXPECT_EQ(o->timeout_ms, 5000u);
  EXPECT_EQ(o->degrade_cgroup, "cg_1");
  EXPECT_TRUE(o->fail_verify);
  EXPECT_EQ(o->error_after, 7u);
  EXPECT_EQ(o->exit_now, 3);
  EXPECT_EQ(o->stats_interval_s, 2u);
}

TEST(ScxFifoOptions, RejectsBadInputWithTheFlagName) {
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  };
  for (const Case& c : std::vector<Case>{
           {{"--stall-after=abc"}, "--stall-after"},
           {{"--stall-after=0"}, "--stall-after"},
           {{"--stall-after=-5"}, "--stall-after"},
           {{"--timeout-ms=99999999999"}, "--timeout-ms"},
           {{"--timeout-ms"}, "needs a value"},
           {{"--fail-verify=yes"}, "takes no value"},
           {{"--degrade="}, "--degrade"},
           {{"--degrade=a/b"}, "--degrade"},
           {{"--degrade=" + std::string(64, 'x')}, "--degrade"},
           {{"--exit-now=256"}, "--exit-now"},
           {{"--bogus"}, "unknown option"},
           {{"positional"}, "unexpected argument"},
       }) {
    absl::StatusOr<ScxFifoOptions> o = ParseScxFifoOptions(c.args);
    ASSERT_FALSE(o.ok()) << c.args[0];
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(o.status().message().find(c.needle), absl::string_view::npos)
        << o.status().message();
  }
}

TEST(ScxFifoOptions, UsageMentionsEveryKnob) {
  std::string usage = ScxFifoUsage();
  for (const char* knob : {"--stall-after", "--degrade", "--error-after", "--fail-verify",
                           "--exit-now", "--timeout-ms", "--stats-interval", "--help"}) {
    EXPECT_NE(usage.find(knob), std::string::npos) << knob;
  }
}

}  // namespace
}  // namespace ktstr::schedulers
