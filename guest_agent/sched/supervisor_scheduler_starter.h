// The agent's SchedulerStarter (guest_agent/scheduler_starter.h) built on SchedulerSupervisor.
// Link //guest_agent/sched:supervisor_scheduler_starter into //guest_agent:ktstr-agent instead
// of :scheduler_starter_stub; it defines MakeDefaultSchedulerStarter().
#ifndef KTSTR_GUEST_AGENT_SCHED_SUPERVISOR_SCHEDULER_STARTER_H_
#define KTSTR_GUEST_AGENT_SCHED_SUPERVISOR_SCHEDULER_STARTER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "guest_agent/sched/scheduler_supervisor.h"
#include "guest_agent/scheduler_starter.h"

namespace ktstr::agent {

namespace config {
// SchedulerLaunch.attach_timeout_ms == 0: long enough for the verifier under TCG (2–24 s
// measured); the daemon passes ~3 s for KVM guests.
inline constexpr absl::Duration kDefaultAttachTimeout = absl::Seconds(60);
// Where the loader's output goes in the guest (one scheduler per VM at a time; it is also
// returned in SchedulerReport.log).
inline constexpr char kSchedulerLogPath[] = "/tmp/ktstr-scheduler.log";
}  // namespace config

// Maps a SchedulerLaunch to a SchedulerLaunchSpec (defaults above).
SchedulerLaunchSpec LaunchSpecFromProto(const v1::SchedulerLaunch& launch,
                                        const std::string& log_path);

// `make_env` supplies the supervisor's environment per start (tests use fakes); `log_path` is
// where the loader's output goes.
std::unique_ptr<SchedulerStarter> MakeSupervisorSchedulerStarter(
    std::function<SupervisorEnv()> make_env, std::string log_path);

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_SCHED_SUPERVISOR_SCHEDULER_STARTER_H_
