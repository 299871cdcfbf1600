// What one worker measured (ktstr's WorkerReport), the shared-memory slot a worker process
// writes it into, and the Telemetry recorder the work loops (and Custom work) call.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_WORKER_REPORT_H_
#define KTSTR_GUEST_AGENT_TESTLIB_WORKER_REPORT_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "guest_agent/testlib/numa_pages.h"
#include "guest_agent/testlib/topology.h"

namespace ktstr {
namespace config {
// Work units between telemetry checkpoints (gap, migration, CPU checks): ktstr's 1024.
inline constexpr uint64_t kCheckpointUnits = 1024;
// Wake/resume latency samples kept per worker (a uniform reservoir over all samples). ktstr
// keeps 100 000; 16 384 bounds the shared slot at 128 KiB per worker and still resolves p99
// to ~160 samples.
inline constexpr uint32_t kMaxLatencySamples = 16384;
// CPU ids tracked in cpus_used.
inline constexpr int kMaxTrackedCpus = 1024;
// ktstr's work-conservation watchdog: a worker whose scheduling gap exceeds this sends
// SIGUSR2 to the scheduler ($SCHED_PID), whose default action kills it, so a scheduler that
// leaves runnable work unserved surfaces as a scheduler death (with its own exit dump).
inline constexpr uint64_t kWatchdogGapNs = 2000ull * 1000 * 1000;
// How often a worker samples its NUMA placement (only with a NUMA check): reading
// numa_maps walks its page tables, so not at every checkpoint.
inline constexpr uint64_t kNumaSampleIntervalNs = 250ull * 1000 * 1000;
}  // namespace config

// How a worker process ended.
enum class WorkerExit { kCompleted, kExited, kSignaled, kTimedOut, kWaitFailed };
const char* WorkerExitName(WorkerExit e);

struct WorkerReport {
  pid_t pid = 0;
  std::string cgroup;     // relative cgroup name ("" = not moved: host workers)
  std::string work_type;  // WorkType::name()
  uint64_t work_units = 0;
  uint64_t iterations = 0;                    // outer-loop iterations
  uint64_t cpu_time_ns = 0;                   // CLOCK_PROCESS_CPUTIME_ID over the loop
  uint64_t wall_time_ns = 0;                  // CLOCK_MONOTONIC over the loop
  uint64_t off_cpu_ns = 0;                    // wall - cpu
  uint64_t migrations = 0;                    // CPU changes seen at checkpoints
  CpuSet cpus_used;                           // CPUs seen at checkpoints
  uint64_t max_gap_ms = 0;                    // longest wall interval between checkpoints
  int max_gap_cpu = -1;                       // CPU the worker was on when that gap ended
  uint64_t max_gap_at_ms = 0;                 // when it ended, ms since the worker started
  std::vector<uint64_t> resume_latencies_ns;  // reservoir sample
  uint64_t wake_sample_total = 0;             // samples seen (>= kept)
  uint64_t schedstat_run_delay_ns = 0;        // /proc/self/schedstat deltas
  uint64_t schedstat_run_count = 0;
  uint64_t schedstat_cpu_time_ns = 0;
  // Anonymous private pages per NUMA node, at the worker's peak sample (numa_pages.h); empty
  // unless a NUMA check asked for samples.
  std::map<int, uint64_t> numa_pages;
  // The nodes its memory policy names (Bind, Preferred, Interleave, ...); empty = local
  // allocation, judged against the nodes of the CPUs it ran on. Set by the scenario.
  std::vector<int> policy_nodes;
  bool is_messenger = false;  // fan-out messengers do not wait for wakes
  WorkerExit exit = WorkerExit::kCompleted;
  int exit_status = 0;  // exit code or signal for kExited/kSignaled
  std::string error;    // setup failure inside the worker (policy, affinity, ...)
};

// Raw POD written by the worker into MAP_SHARED memory the parent allocated before fork.
struct SharedWorkerSlot {
  std::atomic<uint64_t> live_iterations;  // published as the worker runs
  std::atomic<uint32_t> completed;        // 1 once the fields below are final
  // CLOCK_MONOTONIC when the parent opened the start gate. The worker's wall clock and its
  // first scheduling gap start here, not when the worker first gets a CPU: a worker starved
  // from the very start must show it.
  uint64_t release_ns;
  uint32_t is_messenger;
  uint64_t work_units, iterations, cpu_time_ns, wall_time_ns, migrations;
  uint64_t max_gap_ns, max_gap_at_ns;
  int32_t max_gap_cpu;
  uint64_t cpus_used[config::kMaxTrackedCpus / 64];
  uint64_t run_delay_ns, run_count, sched_cpu_ns;
  uint64_t wake_sample_total;
  uint32_t num_samples;
  char error[256];
  uint64_t numa_pages[config::kMaxNumaNodes];  // anonymous pages per node id (peak sample)
  uint64_t numa_total;                         // their sum
  uint64_t samples[config::kMaxLatencySamples];
};

// Lives in the worker process; one per worker. Not thread-safe.
class Telemetry {
 public:
  // `numa_samples`: take NUMA page samples (see SampleNuma).
  Telemetry(SharedWorkerSlot* slot, const volatile int* stop_flag, bool numa_samples = false);
  // Starts the clocks and schedstat baseline (called once the worker is released). Reads
  // SCHED_PID for the watchdog unless KTSTR_NO_WATCHDOG is set (ktstr's repro mode).
  void Start();
  bool stop_requested() const { return *stop_ != 0; }
  // Counts work; every config::kCheckpointUnits units runs a checkpoint.
  void AddWork(uint64_t units);
  void AddIteration();
  // A checkpoint now (blocking work types call it after each wake).
  void Checkpoint();
  void RecordWakeLatency(uint64_t ns);
  void SetError(const std::string& message);
  void MarkMessenger() { slot_->is_messenger = 1; }
  // Stops the clocks and publishes the report (completed = 1).
  void Finish();

 private:
  // Reads this process's anonymous pages per node and keeps the sample with the most pages
  // (the peak working set: work types free their buffers before Finish). At checkpoints, at
  // most every config::kNumaSampleInterval, and once at Finish.
  void SampleNuma();

  SharedWorkerSlot* slot_;
  const volatile int* stop_;
  uint64_t start_ns_ = 0, start_cpu_ns_ = 0, last_ck_ns_ = 0, next_ck_units_ = 0;
  uint64_t base_run_delay_ = 0, base_run_count_ = 0, base_sched_cpu_ = 0;
  int last_cpu_ = -1;
  pid_t sched_pid_ = 0;         // from SCHED_PID; 0 = no watchdog
  bool watchdog_fired_ = false;
  const bool numa_samples_;
  uint64_t last_numa_ns_ = 0;
  uint64_t rng_ = 0x9E3779B97F4A7C15ull;
};

// Builds a WorkerReport from a finished slot.
WorkerReport ReportFromSlot(const SharedWorkerSlot& slot);
uint64_t MonotonicNs();

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_WORKER_REPORT_H_
