// Real worker processes on this machine: every work type runs briefly and fills its
// telemetry; stop leaves no process behind; the start gate holds workers until placed.
#include "guest_agent/testlib/workers.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace ktstr {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

absl::Status NoPlacement(pid_t) { return absl::OkStatus(); }

void CountingCustom(Telemetry& t) {
  while (!t.stop_requested()) {
    t.AddWork(1024);
    t.AddIteration();
  }
}

bool Gone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }
bool GroupGone(pid_t pgid) { return kill(-pgid, 0) != 0 && errno == ESRCH; }

// Work types whose workers block and get woken (so wake/resume latency samples exist).
bool Wakes(const WorkType& w) {
  switch (w.kind) {
    case WorkKind::kIoSync:
    case WorkKind::kBursty:
    case WorkKind::kPipeIo:
    case WorkKind::kFutexPingPong:
    case WorkKind::kFutexFanOut:
    case WorkKind::kCachePipe:
    case WorkKind::kSequence:
    case WorkKind::kFanOutCompute:
      return true;
    default:
      return false;
  }
}

TEST(WorkersTest, AllTwentyWorkTypesRunWithTelemetry) {
  std::vector<WorkType> types;
  for (const std::string& name : WorkType::AllNames()) {
    if (name == "Sequence") {
      types.push_back(
          WorkType::sequence(Phase::Spin(microseconds(20000)),
                             {Phase::Sleep(microseconds(5000)), Phase::Yield(microseconds(2000)),
                              Phase::Io(microseconds(2000))}));
    } else if (name == "Custom") {
      types.push_back(WorkType::custom_fn("Counting", &CountingCustom));
    } else if (name == "Bursty") {
      types.push_back(WorkType::bursty(milliseconds(20), milliseconds(20)));
    } else {
      absl::StatusOr<WorkType> w = WorkType::FromName(name);
      ASSERT_TRUE(w.ok()) << name;
      types.push_back(*w);
    }
  }
  ASSERT_EQ(types.size(), 20u);
  // All at once, so the whole test takes about one run's time.
  std::vector<std::unique_ptr<WorkerSet>> sets;
  for (const WorkType& w : types) {
    WorkerSpec spec;
    spec.work = w;
    spec.count = w.group_size();
    spec.cgroup = w.name();
    absl::StatusOr<std::unique_ptr<WorkerSet>> set = WorkerSet::Spawn(spec, &NoPlacement);
    ASSERT_TRUE(set.ok()) << w.name() << ": " << set.status();
    sets.push_back(*std::move(set));
  }
  std::this_thread::sleep_for(milliseconds(2000));
  std::vector<pid_t> pids;
  for (size_t i = 0; i < sets.size(); ++i) {
    const WorkType& w = types[i];
    std::vector<WorkerReport> reports = sets[i]->Stop();
    ASSERT_EQ(reports.size(), static_cast<size_t>(w.group_size()));
    uint64_t wake_samples = 0;
    for (const WorkerReport& r : reports) {
      pids.push_back(r.pid);
      SCOPED_TRACE(w.name() + " worker " + std::to_string(r.pid));
      EXPECT_EQ(r.exit, WorkerExit::kCompleted);
      EXPECT_EQ(r.error, "");
      EXPECT_EQ(r.work_type, w.name());
      EXPECT_GT(r.work_units, 0u);
      EXPECT_GT(r.iterations, 0u);
      EXPECT_GT(r.wall_time_ns, 1000000000u);  // ran for most of the 2 s
      EXPECT_GT(r.cpu_time_ns, 0u);
      EXPECT_EQ(r.off_cpu_ns, r.wall_time_ns - std::min(r.wall_time_ns, r.cpu_time_ns));
      EXPECT_FALSE(r.cpus_used.empty());
      EXPECT_GE(r.max_gap_cpu, 0);
      EXPECT_LE(r.resume_latencies_ns.size(), config::kMaxLatencySamples);
      wake_samples += r.wake_sample_total;
    }
    if (Wakes(w)) EXPECT_GT(wake_samples, 0u) << w.name();
  }
  sets.clear();
  for (pid_t pid : pids) {
    EXPECT_TRUE(Gone(pid)) << pid;
    EXPECT_TRUE(GroupGone(pid)) << "process group " << pid;  // ForkExit children too
  }
}

TEST(WorkersTest, PlacementHappensBeforeTheWorkerRuns) {
  WorkerSpec spec;
  spec.count = 2;
  WorkerSet* seen = nullptr;
  uint64_t iterations_at_placement = 1;
  std::vector<pid_t> placed;
  absl::StatusOr<std::unique_ptr<WorkerSet>> set = WorkerSet::Spawn(spec, [&](pid_t pid) {
    placed.push_back(pid);
    std::this_thread::sleep_for(milliseconds(50));  // a running worker would count by now
    iterations_at_placement = 0;
    for (pid_t p : placed) {
      // Gate closed: the process exists but its loop has not started.
      EXPECT_FALSE(Gone(p));
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(set.ok()) << set.status();
  seen = set->get();
  EXPECT_EQ(placed, seen->pids());
  EXPECT_EQ(iterations_at_placement, 0u);
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_GT(seen->LiveIterations(), 0u);
  std::vector<WorkerReport> r = seen->Stop();
  EXPECT_GT(r[0].work_units, 0u);
}

TEST(WorkersTest, FailedPlacementKillsEveryWorker) {
  WorkerSpec spec;
  spec.count = 3;
  std::vector<pid_t> pids;
  absl::StatusOr<std::unique_ptr<WorkerSet>> set = WorkerSet::Spawn(spec, [&](pid_t pid) {
    pids.push_back(pid);
    return pids.size() == 2 ? absl::FailedPreconditionError("cgroup gone") : absl::OkStatus();
  });
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().message(), "cgroup gone");
  ASSERT_EQ(pids.size(), 2u);
  for (pid_t pid : pids) EXPECT_TRUE(Gone(pid));
}

TEST(WorkersTest, InvalidSpecIsRejectedBeforeForking) {
  WorkerSpec spec;
  spec.count = 3;
  spec.work = WorkType::futex_ping_pong();
  absl::StatusOr<std::unique_ptr<WorkerSet>> set = WorkerSet::Spawn(spec, &NoPlacement);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().message(), "FutexPingPong needs a worker count divisible by 2 (got 3)");
}

TEST(WorkersTest, DestructorWithoutStopLeavesNothing) {
  WorkerSpec spec;
  spec.count = 2;
  spec.work = WorkType::fork_exit();
  std::vector<pid_t> pids;
  {
    absl::StatusOr<std::unique_ptr<WorkerSet>> set = WorkerSet::Spawn(spec, &NoPlacement);
    ASSERT_TRUE(set.ok());
    pids = (*set)->pids();
    std::this_thread::sleep_for(milliseconds(100));
  }
  for (pid_t pid : pids) {
    EXPECT_TRUE(Gone(pid));
    EXPECT_TRUE(GroupGone(pid));
  }
}

TEST(WorkersTest, SchedPolicyAndAffinityAreApplied) {
  WorkerSpec spec;
  spec.count = 1;
  spec.policy = SchedPolicy::Batch();
  spec.affinity = {{0}};
  absl::StatusOr<std::unique_ptr<WorkerSet>> set = WorkerSet::Spawn(spec, &NoPlacement);
  ASSERT_TRUE(set.ok());
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(sched_getscheduler((*set)->pids()[0]), SCHED_BATCH);
  std::vector<WorkerReport> r = (*set)->Stop();
  EXPECT_EQ(r[0].cpus_used, (CpuSet{0}));
  EXPECT_EQ(r[0].migrations, 0u);
}

TEST(TelemetryTest, GapOverTwoSecondsSignalsTheScheduler) {
  // A stand-in "scheduler" that dies of SIGUSR2's default action.
  const pid_t sched = fork();
  if (sched == 0) {
    pause();
    _exit(0);
  }
  setenv("SCHED_PID", std::to_string(sched).c_str(), 1);
  auto slot = std::make_unique<SharedWorkerSlot>();
  volatile int stop = 0;
  Telemetry t(slot.get(), &stop);
  t.Start();
  t.Checkpoint();  // a short gap: no signal
  std::this_thread::sleep_for(milliseconds(300));
  int status = 0;
  EXPECT_EQ(waitpid(sched, &status, WNOHANG), 0);
  std::this_thread::sleep_for(milliseconds(1800));  // > 2 s since the last checkpoint
  t.Checkpoint();
  unsetenv("SCHED_PID");
  ASSERT_EQ(waitpid(sched, &status, 0), sched);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGUSR2);
  EXPECT_GE(slot->max_gap_ns, config::kWatchdogGapNs);
}

}  // namespace
}  // namespace ktstr
