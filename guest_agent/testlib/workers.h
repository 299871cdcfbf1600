// Worker processes: fork, two-phase start (each worker is placed in its cgroup before it
// runs), stop with SIGUSR1 and a shared deadline, then SIGKILL of each worker's process
// group. No worker outlives its WorkerSet (or the harness: PR_SET_PDEATHSIG).
#ifndef KTSTR_GUEST_AGENT_TESTLIB_WORKERS_H_
#define KTSTR_GUEST_AGENT_TESTLIB_WORKERS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "guest_agent/testlib/topology.h"
#include "guest_agent/testlib/work_types.h"
#include "guest_agent/testlib/worker_report.h"

namespace ktstr {
namespace config {
// Time every worker together gets to publish its report after SIGUSR1 (ktstr: 5 s).
inline constexpr std::chrono::milliseconds kStopDeadline{5000};
}  // namespace config

struct WorkerSpec {
  int count = 1;
  WorkType work;
  SchedPolicy policy;
  MemPolicy mem_policy;
  // Per-worker CPU affinity; empty (or an empty entry) = inherit the cgroup's cpuset.
  std::vector<CpuSet> affinity;
  std::string cgroup;  // recorded in the reports; placement is done by `place`
  // Sample /proc/self/numa_maps while working (a NUMA check is enabled); off, a worker
  // never reads it.
  bool numa_samples = false;
};

class WorkerSet {
 public:
  // Forks spec.count workers, calls place(pid) for each (e.g. a cgroup move) while they wait
  // at the start gate, then releases them. On any error every forked worker is killed and
  // reaped before returning.
  static absl::StatusOr<std::unique_ptr<WorkerSet>> Spawn(
      const WorkerSpec& spec, const std::function<absl::Status(pid_t)>& place);

  ~WorkerSet();  // kills and reaps anything still running
  WorkerSet(const WorkerSet&) = delete;
  WorkerSet& operator=(const WorkerSet&) = delete;

  const std::vector<pid_t>& pids() const { return pids_; }
  const WorkerSpec& spec() const { return spec_; }
  // Sum of the iterations the workers have published so far.
  uint64_t LiveIterations() const;
  bool stopped() const { return stopped_; }
  // SIGUSR1 to every worker; waits until `deadline` for them to exit, SIGKILLs the rest;
  // sweeps each worker's process group. Returns one report per worker (synthesized with
  // the exit kind when a worker did not finish its report). Idempotent.
  std::vector<WorkerReport> Stop(std::chrono::steady_clock::time_point deadline);
  std::vector<WorkerReport> Stop() {
    return Stop(std::chrono::steady_clock::now() + config::kStopDeadline);
  }

 private:
  WorkerSet() = default;
  void KillAll();

  WorkerSpec spec_;
  std::vector<pid_t> pids_;
  std::vector<int> wait_status_;  // per worker, valid once reaped
  std::vector<bool> reaped_;
  void* shm_ = nullptr;
  size_t shm_len_ = 0;
  bool stopped_ = false;
};

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_WORKERS_H_
