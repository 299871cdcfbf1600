// The seam between RunTest and the sched_ext scheduler supervisor (guest_agent/sched/, owned
// by the scheduler engineer): RunTest starts the scheduler through this interface before the
// test binary and stops it afterwards. The real implementation adapts SchedulerSupervisor;
// tests plug in their own.
#ifndef KTSTR_GUEST_AGENT_SCHEDULER_STARTER_H_
#define KTSTR_GUEST_AGENT_SCHEDULER_STARTER_H_

#include <sys/types.h>

#include <memory>

#include "absl/status/statusor.h"
#include "proto/ktstr/agent/v1/agent.pb.h"

namespace ktstr::agent {

// A started scheduler. Destroying it without Stop() must still stop it.
class SchedulerHandle {
 public:
  virtual ~SchedulerHandle() = default;
  virtual pid_t pid() const = 0;
  // The report so far; its state tells whether the scheduler attached
  // (SCHEDULER_STATE_RAN while it runs) or not (NOT_ATTACHED, DIED, SCHED_EXT_ABSENT).
  virtual v1::SchedulerReport report() const = 0;
  // Stops the scheduler and returns the final report.
  virtual v1::SchedulerReport Stop() = 0;
  // The loader's output file, followed live while the test runs; "" = nothing to follow.
  virtual std::string log_path() const { return ""; }
};

class SchedulerStarter {
 public:
  virtual ~SchedulerStarter() = default;
  // Starts the loader and waits for it to attach (or fail to). An error means it could not
  // even be started (binary missing, no supervisor built in).
  virtual absl::StatusOr<std::unique_ptr<SchedulerHandle>> Start(const v1::SchedulerLaunch& launch) = 0;
};

// The starter built into //guest_agent:ktstr-agent (scheduler_starter.cc).
std::unique_ptr<SchedulerStarter> MakeDefaultSchedulerStarter();

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_SCHEDULER_STARTER_H_
