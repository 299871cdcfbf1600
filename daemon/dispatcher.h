// The dispatcher: accepts runs, queues their jobs through admission, starts each admitted
// job on its own thread through the JobExecutor, enforces per-job timeouts, handles cancel,
// merges verdicts and commits every finished job to the ResultStore before telling anyone.
//
// Threads: one dispatcher loop (admission, timeouts, reaping); one thread per running job
// (blocking in JobExecutor::Execute). gRPC threads only call the public methods, which
// never block on a VM. All run/job state is guarded by mu_.
#ifndef KTSTR_DAEMON_DISPATCHER_H_
#define KTSTR_DAEMON_DISPATCHER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "daemon/admission.h"
#include "daemon/artifact_store.h"
#include "daemon/job_executor.h"
#include "daemon/kernel_resolver.h"
#include "daemon/result_store.h"
#include "daemon/run_events.h"
#include "daemon/state_paths.h"

namespace ktstr::daemon {

// Who is calling (SO_PEERCRED of the connection).
struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t pid = 0;
};

struct DispatcherOptions {
  Resources budget;               // host budget for all VMs
  uint32_t default_duration_s = 20;   // when neither the job nor the test says
  uint32_t boot_allowance_s = 300;    // VM + file transfer allowance in the timeout
  uint32_t slack_s = 60;
  size_t max_queued_jobs = 10000;     // RESOURCE_EXHAUSTED beyond
  StatePaths paths;                   // for per-job log dirs
  uint32_t daemon_uid = 0;            // may act on every run, like root
};

struct DispatcherCounts {
  uint32_t runs_active = 0;
  uint32_t jobs_queued = 0;
  uint32_t jobs_running = 0;
  Resources in_use;
  Resources budget;
};

class Dispatcher;

// Budget held outside any run (an interactive shell's VM); returned when destroyed.
class BudgetHold {
 public:
  ~BudgetHold();
  BudgetHold(const BudgetHold&) = delete;
  BudgetHold& operator=(const BudgetHold&) = delete;

 private:
  friend class Dispatcher;
  BudgetHold(Dispatcher* d, std::string id) : dispatcher_(d), id_(std::move(id)) {}
  Dispatcher* const dispatcher_;
  const std::string id_;
};

class Dispatcher {
 public:
  // The stores, resolver and executor must outlive the dispatcher.
  Dispatcher(DispatcherOptions options, ResultStore* results, ArtifactStore* artifacts,
             KernelResolver* kernels, JobExecutor* executor);
  ~Dispatcher();  // Shutdown(false)

  // Validates the spec (INVALID_ARGUMENT: no jobs, bad shape, bad path; NOT_FOUND: unknown
  // kernel or artifact; RESOURCE_EXHAUSTED: queue full; UNAVAILABLE: stopping), records the
  // run in SQLite and queues its jobs. The returned log starts with RunAccepted.
  struct Submitted {
    std::string run_id;
    std::shared_ptr<RunEventLog> events;
  };
  absl::StatusOr<Submitted> Submit(const ktstr::v1::RunSpec& spec, const Caller& caller);

  // A live run's log, or a closed log replayed from SQLite for a finished one.
  // PERMISSION_DENIED for another user's run (unless root or the daemon's uid).
  absl::StatusOr<std::shared_ptr<RunEventLog>> Watch(const std::string& run_id,
                                                     const Caller& caller);
  // Cancels queued and running jobs; returns how many were stopped.
  absl::StatusOr<uint32_t> Cancel(const std::string& run_id, const Caller& caller);
  // "" or "latest" = the caller's newest run.
  absl::StatusOr<ktstr::v1::Run> GetRun(const std::string& run_id, const Caller& caller);
  absl::StatusOr<std::vector<ktstr::v1::Run>> ListRuns(const Caller& caller, uint32_t limit,
                                                       bool all_users,
                                                       const std::string& before_run_id);
  DispatcherCounts Counts();

  // Stops accepting runs. drain=false: queued jobs are cancelled, running jobs interrupted
  // (their VMs killed). drain=true: waits for every job to finish. Idempotent.
  void Shutdown(bool drain);

  bool CallerIsPrivileged(const Caller& c) const;

  // Queues `cost` in admission with the runs' jobs (same fairness and budget) under the
  // name `holder` and blocks until admitted. CANCELLED when `abort` is set first,
  // UNAVAILABLE when ktstrd is stopping. Shutdown aborts the holders' signals (kShutdown)
  // and waits until every hold is destroyed; `abort` must outlive the hold.
  absl::StatusOr<std::unique_ptr<BudgetHold>> HoldBudget(const std::string& holder,
                                                         Resources cost, AbortSignal* abort);

 private:
  friend class BudgetHold;
  struct Holder {
    AbortSignal* abort = nullptr;
    Resources cost;
    bool granted = false;
  };
  void ReleaseHold(const std::string& id);

  struct JobSlot {
    ktstr::v1::Job job;
    JobRequest request;
    Resources cost;
    std::shared_ptr<AbortSignal> abort;
    absl::Time admitted_at;
    absl::Time deadline = absl::InfiniteFuture();
    bool running = false;
    bool finished = false;
  };
  struct RunEntry {
    ktstr::v1::Run run;  // summary (no jobs)
    std::vector<JobSlot> jobs;
    std::shared_ptr<RunEventLog> events;
    absl::Time submitted_at;
    uint32_t unfinished = 0;
    bool cancelled = false;
  };

  absl::Status ValidateJob(const ktstr::v1::JobSpec& spec, JobSlot* slot);
  std::string NewRunId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Loop();
  void StartJobLocked(const QueuedJobRef& ref) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunJob(std::string run_id, uint32_t index);
  // Commits the verdict, then tells watchers; closes the run when it was its last job.
  void CompleteJob(const std::string& run_id, uint32_t index, ktstr::v1::Verdict verdict,
                   bool holds_budget);
  void Emit(RunEntry& entry, ktstr::v1::RunEvent ev) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckOwner(const ktstr::v1::Run& run, const Caller& caller) const;

  const DispatcherOptions options_;
  ResultStore* const results_;
  ArtifactStore* const artifacts_;
  KernelResolver* const kernels_;
  JobExecutor* const executor_;

  absl::Mutex mu_;
  Admission admission_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<RunEntry>> runs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::thread> job_threads_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Holder> holders_ ABSL_GUARDED_BY(mu_);  // queued and granted holds
  uint64_t hold_counter_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> done_threads_ ABSL_GUARDED_BY(mu_);
  uint32_t running_ ABSL_GUARDED_BY(mu_) = 0;
  bool work_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool loop_exited_ ABSL_GUARDED_BY(mu_) = false;
  uint32_t run_counter_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_run_second_ ABSL_GUARDED_BY(mu_);
  std::thread loop_;
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_DISPATCHER_H_
