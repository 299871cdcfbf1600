// Placeholder until //guest_agent/sched:scheduler_supervisor lands: RunTest with a scheduler
// reports that the agent was built without scheduler support (never fakes an attach).
#include "absl/status/status.h"
#include "guest_agent/scheduler_starter.h"

namespace ktstr::agent {
namespace {

class NoSchedulerStarter : public SchedulerStarter {
 public:
  absl::StatusOr<std::unique_ptr<SchedulerHandle>> Start(const v1::SchedulerLaunch& launch) override {
    return absl::UnimplementedError("this agent was built without the scheduler supervisor (" +
                                    launch.name() + " not started)");
  }
};

}  // namespace

std::unique_ptr<SchedulerStarter> MakeDefaultSchedulerStarter() {
  return std::make_unique<NoSchedulerStarter>();
}

}  // namespace ktstr::agent
