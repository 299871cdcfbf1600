#include "guest_agent/testlib/worker_report.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace ktstr {
namespace {

uint64_t ClockNs(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

// /proc/self/schedstat: "cpu_time_ns run_delay_ns pcount". Zeros when schedstats are absent.
void ReadSchedstat(uint64_t* cpu, uint64_t* delay, uint64_t* count) {
  *cpu = *delay = *count = 0;
  FILE* f = fopen("/proc/self/schedstat", "re");
  if (f == nullptr) return;
  unsigned long long a = 0, b = 0, c = 0;
  if (fscanf(f, "%llu %llu %llu", &a, &b, &c) == 3) {
    *cpu = a;
    *delay = b;
    *count = c;
  }
  fclose(f);
}

}  // namespace

uint64_t MonotonicNs() { return ClockNs(CLOCK_MONOTONIC); }

const char* WorkerExitName(WorkerExit e) {
  switch (e) {
    case WorkerExit::kCompleted:
      return "completed";
    case WorkerExit::kExited:
      return "exited";
    case WorkerExit::kSignaled:
      return "signaled";
    case WorkerExit::kTimedOut:
      return "timed out";
    case WorkerExit::kWaitFailed:
      return "wait failed";
  }
  return "?";
}

Telemetry::Telemetry(SharedWorkerSlot* slot, const volatile int* stop_flag, bool numa_samples)
    : slot_(slot), stop_(stop_flag), numa_samples_(numa_samples) {}

void Telemetry::Start() {
  const uint64_t now = MonotonicNs();
  start_ns_ = last_ck_ns_ = slot_->release_ns != 0 && slot_->release_ns <= now
                                ? slot_->release_ns
                                : now;
  start_cpu_ns_ = ClockNs(CLOCK_PROCESS_CPUTIME_ID);
  next_ck_units_ = config::kCheckpointUnits;
  ReadSchedstat(&base_sched_cpu_, &base_run_delay_, &base_run_count_);
  rng_ ^= static_cast<uint64_t>(getpid()) * 0x100000001B3ull;
  const char* sp = getenv("SCHED_PID");
  if (sp != nullptr && getenv("KTSTR_NO_WATCHDOG") == nullptr) sched_pid_ = atoi(sp);
  Checkpoint();
}

void Telemetry::AddWork(uint64_t units) {
  slot_->work_units += units;
  if (slot_->work_units >= next_ck_units_) {
    next_ck_units_ = (slot_->work_units / config::kCheckpointUnits + 1) * config::kCheckpointUnits;
    Checkpoint();
  }
}

void Telemetry::AddIteration() {
  ++slot_->iterations;
  slot_->live_iterations.store(slot_->iterations, std::memory_order_relaxed);
}

void Telemetry::Checkpoint() {
  const uint64_t now = MonotonicNs();
  const int cpu = sched_getcpu();
  const uint64_t gap = now - last_ck_ns_;
  if (gap > slot_->max_gap_ns) {
    slot_->max_gap_ns = gap;
    slot_->max_gap_cpu = cpu;
    slot_->max_gap_at_ns = now - start_ns_;
  }
  last_ck_ns_ = now;
  if (gap > config::kWatchdogGapNs && sched_pid_ > 0 && !watchdog_fired_) {
    watchdog_fired_ = true;
    kill(sched_pid_, SIGUSR2);
  }
  if (cpu >= 0 && cpu < config::kMaxTrackedCpus) {
    slot_->cpus_used[cpu / 64] |= 1ull << (cpu % 64);
  }
  if (last_cpu_ >= 0 && cpu != last_cpu_) ++slot_->migrations;
  last_cpu_ = cpu;
  if (numa_samples_ && now - last_numa_ns_ >= config::kNumaSampleIntervalNs) {
    last_numa_ns_ = now;
    SampleNuma();
  }
}

void Telemetry::SampleNuma() {
  const std::map<int, uint64_t> pages = AnonPagesPerNode(ReadProcText("/proc/self/numa_maps"));
  uint64_t total = 0;
  for (const auto& [node, n] : pages) total += n;
  if (total <= slot_->numa_total) return;
  slot_->numa_total = total;
  memset(slot_->numa_pages, 0, sizeof(slot_->numa_pages));
  for (const auto& [node, n] : pages) {
    if (node < config::kMaxNumaNodes) slot_->numa_pages[node] = n;
  }
}

void Telemetry::RecordWakeLatency(uint64_t ns) {
  const uint64_t seen = slot_->wake_sample_total++;
  if (slot_->num_samples < config::kMaxLatencySamples) {
    slot_->samples[slot_->num_samples++] = ns;
    return;
  }
  // Reservoir sampling (Algorithm R) with xorshift: every sample kept with equal probability.
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const uint64_t j = rng_ % (seen + 1);
  if (j < config::kMaxLatencySamples) slot_->samples[j] = ns;
}

void Telemetry::SetError(const std::string& message) {
  snprintf(slot_->error, sizeof(slot_->error), "%s", message.c_str());
}

void Telemetry::Finish() {
  const uint64_t now = MonotonicNs();
  slot_->wall_time_ns = now - start_ns_;
  slot_->cpu_time_ns = ClockNs(CLOCK_PROCESS_CPUTIME_ID) - start_cpu_ns_;
  uint64_t cpu = 0, delay = 0, count = 0;
  ReadSchedstat(&cpu, &delay, &count);
  slot_->run_delay_ns = delay - base_run_delay_;
  slot_->run_count = count - base_run_count_;
  slot_->sched_cpu_ns = cpu - base_sched_cpu_;
  if (numa_samples_) SampleNuma();
  slot_->live_iterations.store(slot_->iterations, std::memory_order_relaxed);
  slot_->completed.store(1, std::memory_order_release);
}

WorkerReport ReportFromSlot(const SharedWorkerSlot& slot) {
  WorkerReport r;
  r.work_units = slot.work_units;
  r.iterations = slot.iterations;
  r.cpu_time_ns = slot.cpu_time_ns;
  r.wall_time_ns = slot.wall_time_ns;
  r.off_cpu_ns = slot.wall_time_ns > slot.cpu_time_ns ? slot.wall_time_ns - slot.cpu_time_ns : 0;
  r.migrations = slot.migrations;
  for (int c = 0; c < config::kMaxTrackedCpus; ++c) {
    if (slot.cpus_used[c / 64] & (1ull << (c % 64))) r.cpus_used.push_back(c);
  }
  r.max_gap_ms = slot.max_gap_ns / 1000000;
  r.max_gap_cpu = slot.max_gap_cpu;
  r.max_gap_at_ms = slot.max_gap_at_ns / 1000000;
  r.resume_latencies_ns.assign(slot.samples, slot.samples + slot.num_samples);
  r.wake_sample_total = slot.wake_sample_total;
  r.schedstat_run_delay_ns = slot.run_delay_ns;
  r.schedstat_run_count = slot.run_count;
  r.schedstat_cpu_time_ns = slot.sched_cpu_ns;
  r.is_messenger = slot.is_messenger != 0;
  for (int n = 0; n < config::kMaxNumaNodes; ++n) {
    if (slot.numa_pages[n] > 0) r.numa_pages[n] = slot.numa_pages[n];
  }
  r.error.assign(slot.error, strnlen(slot.error, sizeof(slot.error)));
  return r;
}

}  // namespace ktstr
