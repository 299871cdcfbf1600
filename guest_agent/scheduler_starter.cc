// The real SchedulerStarter: adapts guest_agent/sched's SchedulerSupervisor (the scheduler
// engineer's code: sysctls, loader start, attach wait, ejection classification, stop).
#include "guest_agent/scheduler_starter.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "guest_agent/sched/scheduler_supervisor.h"

namespace ktstr::agent {
namespace {

namespace config {
// Attach timeout when the host gives none: verifier time alone is 2-24 s under TCG on the
// shared 2-core host (scheduler_supervisor.h), ~3 s under KVM.
constexpr absl::Duration kDefaultAttachTimeout = absl::Seconds(60);
}  // namespace config

class SupervisorHandle : public SchedulerHandle {
 public:
  SupervisorHandle(std::unique_ptr<SchedulerSupervisor> s, std::string log_path)
      : s_(std::move(s)), log_path_(std::move(log_path)) {}
  pid_t pid() const override { return s_->pid(); }
  v1::SchedulerReport report() const override { return s_->report(); }
  v1::SchedulerReport Stop() override { return s_->Stop(); }
  std::string log_path() const override { return log_path_; }

 private:
  std::unique_ptr<SchedulerSupervisor> s_;
  const std::string log_path_;
};

class SupervisorStarter : public SchedulerStarter {
 public:
  absl::StatusOr<std::unique_ptr<SchedulerHandle>> Start(const v1::SchedulerLaunch& launch) override {
    SchedulerLaunchSpec spec;
    spec.name = launch.name().empty() ? "scheduler" : launch.name();
    spec.binary_path = launch.binary_path();
    spec.args.assign(launch.args().begin(), launch.args().end());
    for (const v1::Sysctl& s : launch.sysctls()) spec.sysctls.emplace_back(s.key(), s.value());
    spec.attach_timeout = launch.attach_timeout_ms() > 0 ? absl::Milliseconds(launch.attach_timeout_ms())
                                                         : config::kDefaultAttachTimeout;
    spec.expected_ops_name = launch.expected_ops_name();
    // One log per run: the supervisor reads its tail into the report.
    spec.log_path = absl::StrCat("/tmp/ktstr-scheduler-", ++runs_, ".log");
    auto s = SchedulerSupervisor::Start(spec);
    if (!s.ok()) return s.status();
    return std::unique_ptr<SchedulerHandle>(
        std::make_unique<SupervisorHandle>(std::move(*s), spec.log_path));
  }

 private:
  std::atomic<int> runs_{0};
};

}  // namespace

std::unique_ptr<SchedulerStarter> MakeDefaultSchedulerStarter() {
  return std::make_unique<SupervisorStarter>();
}

}  // namespace ktstr::agent
