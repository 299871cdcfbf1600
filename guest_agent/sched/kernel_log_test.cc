#include "guest_agent/sched/kernel_log.h"

#include "gtest/gtest.h"

namespace ktstr::agent {
namespace {

TEST(KernelLog, ParsesKmsgRecords) {
  EXPECT_EQ(ParseKmsgRecord("3,1234,5678901,-;sched_ext: BPF scheduler \"scx_fifo\" disabled "
                            "(runnable task stall)\n"),
            "sched_ext: BPF scheduler \"scx_fifo\" disabled (runnable task stall)");
  // Continuation (dictionary) lines are dropped; extra header fields are allowed.
  EXPECT_EQ(ParseKmsgRecord("6,1,2,-,caller=T1;hello\n SUBSYSTEM=cpu\n DEVICE=+cpu:0\n"), "hello");
  EXPECT_EQ(ParseKmsgRecord("6,1,2,-;\n"), "");
  EXPECT_FALSE(ParseKmsgRecord("no header here").has_value());
  EXPECT_FALSE(ParseKmsgRecord(";starts with semicolon").has_value());
}

TEST(KernelLog, OpenFailsCleanlyOnAMissingDevice) {
  absl::StatusOr<std::unique_ptr<DevKmsgSource>> s = DevKmsgSource::Open("/nonexistent/kmsg");
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace ktstr::agent
