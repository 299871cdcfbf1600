#include "guest_agent/sched/supervisor_scheduler_starter.h"

#include <utility>

namespace ktstr::agent {
namespace {

class SupervisorHandle : public SchedulerHandle {
 public:
  explicit SupervisorHandle(std::unique_ptr<SchedulerSupervisor> sup) : sup_(std::move(sup)) {}

  pid_t pid() const override { return sup_->pid(); }
  // Looks first, so a scheduler that went away mid-test is reported as such right away.
  v1::SchedulerReport report() const override {
    sup_->Alive();
    return sup_->report();
  }
  v1::SchedulerReport Stop() override { return sup_->Stop(); }

 private:
  std::unique_ptr<SchedulerSupervisor> sup_;  // destroying it stops the loader
};

class SupervisorStarter : public SchedulerStarter {
 public:
  SupervisorStarter(std::function<SupervisorEnv()> make_env, std::string log_path)
      : make_env_(std::move(make_env)), log_path_(std::move(log_path)) {}

  absl::StatusOr<std::unique_ptr<SchedulerHandle>> Start(
      const v1::SchedulerLaunch& launch) override {
    auto sup = SchedulerSupervisor::Start(LaunchSpecFromProto(launch, log_path_), make_env_());
    if (!sup.ok()) return sup.status();
    return std::unique_ptr<SchedulerHandle>(new SupervisorHandle(*std::move(sup)));
  }

 private:
  std::function<SupervisorEnv()> make_env_;
  std::string log_path_;
};

}  // namespace

SchedulerLaunchSpec LaunchSpecFromProto(const v1::SchedulerLaunch& launch,
                                        const std::string& log_path) {
  SchedulerLaunchSpec spec;
  spec.name = launch.name().empty() ? launch.binary_path() : launch.name();
  spec.binary_path = launch.binary_path();
  spec.args.assign(launch.args().begin(), launch.args().end());
  for (const v1::Sysctl& s : launch.sysctls()) spec.sysctls.emplace_back(s.key(), s.value());
  spec.attach_timeout = launch.attach_timeout_ms() == 0
                            ? config::kDefaultAttachTimeout
                            : absl::Milliseconds(launch.attach_timeout_ms());
  spec.expected_ops_name = launch.expected_ops_name();
  spec.log_path = log_path;
  return spec;
}

std::unique_ptr<SchedulerStarter> MakeSupervisorSchedulerStarter(
    std::function<SupervisorEnv()> make_env, std::string log_path) {
  return std::make_unique<SupervisorStarter>(std::move(make_env), std::move(log_path));
}

std::unique_ptr<SchedulerStarter> MakeDefaultSchedulerStarter() {
  return MakeSupervisorSchedulerStarter([] { return SupervisorEnv{}; },
                                        config::kSchedulerLogPath);
}

}  // namespace ktstr::agent
