// Every scx_fifo definition passes arguments the real loader accepts, with the knob it names.
#include "scheduler_tests/schedulers/sched_defs.h"

#include "gtest/gtest.h"
#include "scheduler_tests/schedulers/scx_fifo_options.h"

namespace ktstr::schedulers {
namespace {

absl::StatusOr<ScxFifoOptions> Parse(const SchedulerDef& def) {
  return ParseScxFifoOptions(SchedulerArgs(def, {}, {}));
}

TEST(SchedDefs, EveryVariantPassesArgumentsTheLoaderAccepts) {
  for (const SchedulerDef* def : {&kScxFifo, &kScxFifoStall, &kScxFifoDegrade, &kScxFifoError,
                                  &kScxFifoFailVerify, &kScxFifoExitNow}) {
    EXPECT_EQ(def->name, "scx_fifo");
    EXPECT_EQ(def->binary.kind, SchedulerSpec::Kind::kDiscover);
    EXPECT_EQ(def->binary.name_or_path, "scx_fifo");
    absl::StatusOr<ScxFifoOptions> o = Parse(*def);
    EXPECT_TRUE(o.ok()) << o.status();
  }
}

TEST(SchedDefs, EachVariantTurnsOnItsKnob) {
  EXPECT_EQ(Parse(kScxFifo)->stall_after, 0u);
  EXPECT_FALSE(Parse(kScxFifo)->fail_verify);
  EXPECT_EQ(Parse(kScxFifoStall)->stall_after, 1000u);
  EXPECT_EQ(Parse(kScxFifoStall)->timeout_ms, 3000u);
  EXPECT_EQ(Parse(kScxFifoDegrade)->degrade_cgroup, "cg_1");
  EXPECT_EQ(Parse(kScxFifoError)->error_after, 1000u);
  EXPECT_TRUE(Parse(kScxFifoFailVerify)->fail_verify);
  EXPECT_EQ(Parse(kScxFifoExitNow)->exit_now, 3);
}

}  // namespace
}  // namespace ktstr::schedulers
