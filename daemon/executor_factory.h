// Builds the JobExecutor named by DaemonOptions::executor.
#ifndef KTSTR_DAEMON_EXECUTOR_FACTORY_H_
#define KTSTR_DAEMON_EXECUTOR_FACTORY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "daemon/daemon.h"
#include "daemon/job_executor.h"

namespace ktstr::daemon {

// "fake": testing/fake_executor.h (daemon tests only; no VM). "vm": QEMU VMs from the warm
// pool running the guest agent.
absl::StatusOr<std::unique_ptr<JobExecutor>> MakeExecutor(const DaemonOptions& options);

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_EXECUTOR_FACTORY_H_
