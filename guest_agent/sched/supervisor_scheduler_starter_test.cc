// The agent-facing adapter: SchedulerLaunch fields reach the supervisor, and the handle reports
// and stops through it (a real sh process as the loader, a fake sysfs directory).
#include "guest_agent/sched/supervisor_scheduler_starter.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "guest_agent/sched/testing/file_kernel_log.h"
#include "gtest/gtest.h"

namespace ktstr::agent {
namespace {

namespace fs = std::filesystem;

TEST(SupervisorSchedulerStarter, MapsTheLaunchMessage) {
  v1::SchedulerLaunch launch;
  launch.set_name("scx_fifo");
  launch.set_binary_path("/scheduler");
  launch.add_args("--stall-after=5");
  v1::Sysctl* s = launch.add_sysctls();
  s->set_key("kernel.sched_rt_runtime_us");
  s->set_value("-1");
  launch.set_expected_ops_name("scx_fifo");
  SchedulerLaunchSpec spec = LaunchSpecFromProto(launch, "/tmp/x.log");
  EXPECT_EQ(spec.name, "scx_fifo");
  EXPECT_EQ(spec.binary_path, "/scheduler");
  EXPECT_EQ(spec.args, std::vector<std::string>{"--stall-after=5"});
  ASSERT_EQ(spec.sysctls.size(), 1u);
  EXPECT_EQ(spec.sysctls[0].first, "kernel.sched_rt_runtime_us");
  EXPECT_EQ(spec.attach_timeout, config::kDefaultAttachTimeout);  // 0 = default
  EXPECT_EQ(spec.expected_ops_name, "scx_fifo");
  EXPECT_EQ(spec.log_path, "/tmp/x.log");
  launch.set_attach_timeout_ms(3000);
  EXPECT_EQ(LaunchSpecFromProto(launch, "").attach_timeout, absl::Seconds(3));
}

TEST(SupervisorSchedulerStarter, StartsReportsAndStops) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  fs::path d = fs::path(tmp ? tmp : "/tmp") / absl::StrCat("starter_", getpid());
  fs::remove_all(d);
  fs::create_directories(d / "sys");
  std::ofstream(d / "sys" / "state") << "disabled\n";
  std::ofstream(d / "kmsg") << "";
  auto starter = MakeSupervisorSchedulerStarter(
      [&] {
        SupervisorEnv env;
        env.sysfs_root = (d / "sys").string();
        env.kernel_log = std::make_unique<testing::FileKernelLog>((d / "kmsg").string());
        return env;
      },
      (d / "sched.log").string());
  v1::SchedulerLaunch launch;
  launch.set_name("fake");
  launch.set_binary_path("/bin/sh");
  launch.add_args("-c");
  launch.add_args(absl::StrCat("D=", d.string(),
                               "; mkdir -p $D/sys/root; echo fake > $D/sys/root/ops; "
                               "echo enabled > $D/sys/state; trap 'echo disabled > $D/sys/state; "
                               "rm -rf $D/sys/root; exit 0' INT; while :; do sleep 0.02; done"));
  launch.set_attach_timeout_ms(20000);
  launch.set_expected_ops_name("fake");
  auto handle = starter->Start(launch);
  ASSERT_TRUE(handle.ok()) << handle.status();
  EXPECT_GT((*handle)->pid(), 0);
  EXPECT_EQ((*handle)->report().state(), v1::SCHEDULER_STATE_RAN);
  v1::SchedulerReport r = (*handle)->Stop();
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_RAN);
  EXPECT_EQ(r.exit_code(), 0);
  fs::remove_all(d);
}

}  // namespace
}  // namespace ktstr::agent
