#include "guest_agent/testlib/workers.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <new>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "guest_agent/testlib/work_loops.h"

namespace ktstr {
namespace config {
// Bound on waiting for killed descendants of workers to be reaped by init.
constexpr auto kSweepWait = std::chrono::milliseconds(1000);
}  // namespace config
namespace {

volatile int g_worker_stop = 0;  // set by SIGUSR1 inside a worker process

void OnStopSignal(int) { g_worker_stop = 1; }

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

struct Layout {
  size_t slots_off = 0, groups_off = 0, total = 0;
};

Layout ComputeLayout(int workers, int groups) {
  Layout l;
  l.groups_off = RoundUp(sizeof(SharedWorkerSlot) * workers, 64);
  l.total = RoundUp(l.groups_off + sizeof(internal::GroupWords) * groups, 4096);
  return l;
}

int PolicyOf(SchedPolicy::Kind k) {
  switch (k) {
    case SchedPolicy::Kind::kNormal:
      return SCHED_OTHER;
    case SchedPolicy::Kind::kBatch:
      return SCHED_BATCH;
    case SchedPolicy::Kind::kIdle:
      return SCHED_IDLE;
    case SchedPolicy::Kind::kFifo:
      return SCHED_FIFO;
    case SchedPolicy::Kind::kRoundRobin:
      return SCHED_RR;
  }
  return SCHED_OTHER;
}

int MempolicyMode(MemPolicy::Kind k) {
  switch (k) {
    // The MPOL_* values of <linux/mempolicy.h> (numaif.h is not installed here).
    case MemPolicy::Kind::kDefault:
      return 0;
    case MemPolicy::Kind::kPreferred:
      return 1;
    case MemPolicy::Kind::kBind:
      return 2;
    case MemPolicy::Kind::kInterleave:
      return 3;
    case MemPolicy::Kind::kLocal:
      return 4;  // MPOL_LOCAL
    case MemPolicy::Kind::kPreferredMany:
      return 5;  // MPOL_PREFERRED_MANY (5.15+)
    case MemPolicy::Kind::kWeightedInterleave:
      return 6;  // MPOL_WEIGHTED_INTERLEAVE (6.9+)
  }
  return 0;
}

// Applies affinity, memory policy and scheduling policy; "" on success.
std::string ApplyWorkerSetup(const WorkerSpec& spec, int index) {
  if (index < static_cast<int>(spec.affinity.size()) && !spec.affinity[index].empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : spec.affinity[index]) CPU_SET(c, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
      return absl::StrCat("sched_setaffinity(", FormatCpuList(spec.affinity[index]),
                          "): ", strerror(errno));
    }
  }
  if (spec.mem_policy.kind != MemPolicy::Kind::kDefault) {
    unsigned long mask[1024 / (8 * sizeof(unsigned long))] = {};
    for (int n : spec.mem_policy.nodes)
      mask[n / (8 * sizeof(long))] |= 1ul << (n % (8 * sizeof(long)));
    const int mode = MempolicyMode(spec.mem_policy.kind) | static_cast<int>(spec.mem_policy.flags);
    const bool no_nodes = spec.mem_policy.kind == MemPolicy::Kind::kLocal;
    if (syscall(SYS_set_mempolicy, mode, no_nodes ? nullptr : mask, no_nodes ? 0 : 1024) != 0) {
      return absl::StrCat("set_mempolicy: ", strerror(errno));
    }
  }
  if (spec.policy.kind != SchedPolicy::Kind::kNormal) {
    struct sched_param p = {spec.policy.priority};
    if (sched_setscheduler(0, PolicyOf(spec.policy.kind), &p) != 0) {
      return absl::StrCat("sched_setscheduler(", spec.policy.ToString(), "): ", strerror(errno));
    }
  }
  return "";
}

[[noreturn]] void WorkerMain(const WorkerSpec& spec, int index, pid_t parent, int gate_rd,
                             SharedWorkerSlot* slot, internal::GroupWords* group, int pipe_in,
                             int pipe_out, const std::vector<int>& close_fds) {
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;  // no SA_RESTART: blocking calls return EINTR on stop
  sigaction(SIGUSR1, &sa, nullptr);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(0);
  for (int fd : close_fds) close(fd);
  char go = 0;
  ssize_t n;
  while ((n = read(gate_rd, &go, 1)) < 0 && errno == EINTR && !g_worker_stop) {
  }
  close(gate_rd);
  // EOF: the parent gave up before releasing us. A stop that arrives right after the release
  // still gets a (short) report below.
  if (n != 1 && !g_worker_stop) _exit(0);

  Telemetry t(slot, &g_worker_stop, spec.numa_samples);
  if (std::string err = ApplyWorkerSetup(spec, index); !err.empty()) {
    t.SetError(err);
    t.Start();
    t.Finish();
    _exit(0);
  }
  internal::WorkLoopEnv env;
  env.work = &spec.work;
  env.role = index % spec.work.group_size();
  env.group = group;
  env.pipe_in = pipe_in;
  env.pipe_out = pipe_out;
  env.t = &t;
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &mask)) env.allowed.push_back(c);
  }
  t.Start();
  internal::RunWorkLoop(env);
  t.Finish();
  _exit(0);
}

// SIGKILLs what is left of each worker's process group (ForkExit children) and waits,
// bounded, until the groups are empty: a killed orphan lingers as a zombie until init (or
// the agent, as PID 1) reaps it.
void SweepGroups(const std::vector<pid_t>& pgids) {
  for (pid_t pgid : pgids) kill(-pgid, SIGKILL);
  const auto deadline = std::chrono::steady_clock::now() + config::kSweepWait;
  for (pid_t pgid : pgids) {
    while (kill(-pgid, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

bool NeedsPipes(const WorkType& w) {
  return w.kind == WorkKind::kPipeIo || w.kind == WorkKind::kCachePipe;
}

}  // namespace

absl::StatusOr<std::unique_ptr<WorkerSet>> WorkerSet::Spawn(
    const WorkerSpec& spec, const std::function<absl::Status(pid_t)>& place) {
  if (absl::Status s = spec.work.Validate(spec.count); !s.ok()) return s;
  if (absl::Status s = spec.policy.Validate(); !s.ok()) return s;
  if (absl::Status s = spec.mem_policy.Validate(); !s.ok()) return s;
  std::unique_ptr<WorkerSet> set(new WorkerSet());
  set->spec_ = spec;
  const int groups = spec.count / spec.work.group_size();
  const Layout layout = ComputeLayout(spec.count, groups);
  set->shm_len_ = layout.total;
  set->shm_ =
      mmap(nullptr, layout.total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (set->shm_ == MAP_FAILED) {
    set->shm_ = nullptr;
    return absl::ResourceExhaustedError(absl::StrCat("mmap worker slots: ", strerror(errno)));
  }
  auto* base = static_cast<char*>(set->shm_);
  auto* slots = new (base) SharedWorkerSlot[spec.count]();
  auto* group_words = new (base + layout.groups_off) internal::GroupWords[groups]();

  // Pair pipes: pipes[2*pair] carries role 0 -> role 1, pipes[2*pair+1] the reverse.
  std::vector<int> pipe_fds;  // read, write, read, write, ...
  auto close_pipes = absl::MakeCleanup([&pipe_fds] {
    for (int fd : pipe_fds) close(fd);
  });
  if (NeedsPipes(spec.work)) {
    for (int p = 0; p < groups * 2; ++p) {
      int fds[2];
      if (pipe2(fds, O_CLOEXEC) != 0) return absl::ResourceExhaustedError("pipe2 failed");
      fcntl(fds[1], F_SETFL, O_NONBLOCK);  // a stopped partner must never block a writer
      pipe_fds.push_back(fds[0]);
      pipe_fds.push_back(fds[1]);
    }
  }
  int gate[2];
  if (pipe2(gate, O_CLOEXEC) != 0) return absl::ResourceExhaustedError("pipe2 (gate) failed");
  auto close_gate = absl::MakeCleanup([&gate] {
    close(gate[0]);
    if (gate[1] >= 0) close(gate[1]);
  });

  // SIGUSR1 stays blocked across fork until the child has its handler.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, &old);
  const pid_t parent = getpid();
  for (int i = 0; i < spec.count; ++i) {
    const int g = i / spec.work.group_size(), role = i % spec.work.group_size();
    int in = -1, out = -1;
    std::vector<int> close_fds = {gate[1]};
    if (NeedsPipes(spec.work)) {
      in = pipe_fds[2 * (2 * g + (1 - role))];
      out = pipe_fds[2 * (2 * g + role) + 1];
      for (int fd : pipe_fds)
        if (fd != in && fd != out) close_fds.push_back(fd);
    }
    const pid_t pid = fork();
    if (pid == 0) {
      WorkerMain(spec, i, parent, gate[0], &slots[i], &group_words[g], in, out, close_fds);
    }
    if (pid < 0) {
      const int err = errno;
      sigprocmask(SIG_SETMASK, &old, nullptr);
      set->KillAll();
      return absl::ResourceExhaustedError(absl::StrCat("fork worker: ", strerror(err)));
    }
    set->pids_.push_back(pid);
    set->reaped_.push_back(false);
    set->wait_status_.push_back(0);
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  std::move(close_pipes).Invoke();
  for (pid_t pid : set->pids_) {
    if (absl::Status s = place(pid); !s.ok()) {
      set->KillAll();
      return s;
    }
  }
  const uint64_t release_ns = MonotonicNs();
  for (int i = 0; i < spec.count; ++i) slots[i].release_ns = release_ns;
  const std::string go(spec.count, 'g');
  if (write(gate[1], go.data(), go.size()) != static_cast<ssize_t>(go.size())) {
    set->KillAll();
    return absl::InternalError("could not release workers from the start gate");
  }
  return set;
}

uint64_t WorkerSet::LiveIterations() const {
  if (shm_ == nullptr) return 0;
  const auto* slots = static_cast<const SharedWorkerSlot*>(shm_);
  uint64_t sum = 0;
  for (size_t i = 0; i < pids_.size(); ++i) {
    sum += slots[i].live_iterations.load(std::memory_order_relaxed);
  }
  return sum;
}

std::vector<WorkerReport> WorkerSet::Stop(std::chrono::steady_clock::time_point deadline) {
  std::vector<WorkerReport> reports;
  if (stopped_) return reports;
  stopped_ = true;
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (!reaped_[i]) kill(pids_[i], SIGUSR1);
  }
  std::vector<bool> timed_out(pids_.size(), false);
  for (;;) {
    bool all = true;
    for (size_t i = 0; i < pids_.size(); ++i) {
      if (reaped_[i]) continue;
      const pid_t r = waitpid(pids_[i], &wait_status_[i], WNOHANG);
      if (r == pids_[i] || (r < 0 && errno == ECHILD)) {
        reaped_[i] = true;
      } else {
        all = false;
      }
    }
    if (all) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      for (size_t i = 0; i < pids_.size(); ++i) {
        if (reaped_[i]) continue;
        timed_out[i] = true;
        kill(-pids_[i], SIGKILL);
        kill(pids_[i], SIGKILL);
        while (waitpid(pids_[i], &wait_status_[i], 0) < 0 && errno == EINTR) {
        }
        reaped_[i] = true;
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  SweepGroups(pids_);  // descendants (ForkExit children)
  const auto* slots = static_cast<const SharedWorkerSlot*>(shm_);
  for (size_t i = 0; i < pids_.size(); ++i) {
    WorkerReport r = ReportFromSlot(slots[i]);
    r.pid = pids_[i];
    r.cgroup = spec_.cgroup;
    r.work_type = spec_.work.name();
    if (slots[i].completed.load(std::memory_order_acquire) == 0) {
      if (timed_out[i]) {
        r.exit = WorkerExit::kTimedOut;
      } else if (WIFSIGNALED(wait_status_[i])) {
        r.exit = WorkerExit::kSignaled;
        r.exit_status = WTERMSIG(wait_status_[i]);
      } else {
        r.exit = WorkerExit::kExited;
        r.exit_status = WEXITSTATUS(wait_status_[i]);
      }
    }
    reports.push_back(std::move(r));
  }
  return reports;
}

void WorkerSet::KillAll() {
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (reaped_[i]) continue;
    kill(-pids_[i], SIGKILL);
    kill(pids_[i], SIGKILL);
    while (waitpid(pids_[i], nullptr, 0) < 0 && errno == EINTR) {
    }
    reaped_[i] = true;
  }
  SweepGroups(pids_);
  stopped_ = true;
}

WorkerSet::~WorkerSet() {
  KillAll();
  if (shm_ != nullptr) munmap(shm_, shm_len_);
}

}  // namespace ktstr
