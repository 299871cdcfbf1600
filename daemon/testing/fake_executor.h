// A JobExecutor that runs no VM, for daemon tests where QEMU cannot or need not run. Each
// job's behaviour comes from its test name:
//   contains "hang"     -> waits until aborted (timeout / cancel / shutdown tests)
//   contains "panic"    -> a kernel panic seen on the console, no agent result
//   contains "fail"     -> the test reports FAIL with a "stuck" detail and a stats block
//   contains "skip"     -> the test reports SKIP
//   contains "noreport" -> the test process exits 3 without a report
//   otherwise           -> PASS after `pass_delay`
// Shells get a testing/fake_shell_vm.h VM (a line-echoing "terminal").
// Also linked into ktstrd behind --executor=fake, which only tests use.
#ifndef KTSTR_DAEMON_TESTING_FAKE_EXECUTOR_H_
#define KTSTR_DAEMON_TESTING_FAKE_EXECUTOR_H_

#include <atomic>
#include <string>

#include "absl/time/time.h"
#include "daemon/job_executor.h"

namespace ktstr::daemon {

class FakeExecutor : public JobExecutor {
 public:
  explicit FakeExecutor(absl::Duration pass_delay = absl::Milliseconds(20))
      : pass_delay_(pass_delay) {}

  ExecutionOutcome Execute(const JobRequest& req, const JobProgress& progress,
                           AbortSignal& abort) override;
  absl::StatusOr<std::unique_ptr<ShellVm>> StartShellVm(const ShellVmRequest& req,
                                                        AbortSignal& abort) override;
  uint32_t vms_running() override { return running_.load(); }
  std::string accelerator() override { return "fake"; }

  int executed() const { return executed_.load(); }
  int max_concurrent() const { return max_concurrent_.load(); }

 private:
  const absl::Duration pass_delay_;
  std::atomic<int> executed_{0};
  std::atomic<int> shells_{0};
  std::atomic<uint32_t> running_{0};
  std::atomic<int> max_concurrent_{0};
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_TESTING_FAKE_EXECUTOR_H_
