#include "guest_agent/testlib/work_loops.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace ktstr::internal {
namespace config {
// Upper bound of any blocking wait so a stop request is noticed promptly.
constexpr long kBlockTimeoutNs = 100 * 1000 * 1000;
// IoSync: bytes written per iteration and the sleep after it (ktstr: 64 KB, 100 us).
constexpr size_t kIoBytes = 64 * 1024;
constexpr long kIoSleepNs = 100 * 1000;
}  // namespace config
namespace {

uint64_t Now() { return MonotonicNs(); }

void Spin(uint64_t n) {
  volatile uint64_t x = 0;
  for (uint64_t i = 0; i < n; ++i) x = x * 6364136223846793005ull + i;
}

// Sleeps `ns` (interrupted by the stop signal) and records the overshoot as wake latency.
void SleepNs(Telemetry& t, uint64_t ns) {
  if (ns == 0) return;
  const uint64_t start = Now();
  struct timespec ts = {static_cast<time_t>(ns / 1000000000ull),
                        static_cast<long>(ns % 1000000000ull)};
  if (nanosleep(&ts, nullptr) != 0) return;  // EINTR: stopping
  const uint64_t slept = Now() - start;
  t.RecordWakeLatency(slept > ns ? slept - ns : 0);
}

long FutexWait(std::atomic<uint32_t>* word, uint32_t expected) {
  struct timespec ts = {0, config::kBlockTimeoutNs};
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr,
                 0);
}

void FutexWake(std::atomic<uint32_t>* word, int n) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, n, nullptr, nullptr, 0);
}

uint64_t XorShift(uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

// Sends our timestamp to the partner and waits (bounded) for theirs; records the latency
// between their write and our wake.
void PipeExchange(WorkLoopEnv& env) {
  uint64_t stamp = Now();
  if (write(env.pipe_out, &stamp, sizeof(stamp)) != sizeof(stamp)) return;
  struct pollfd p = {env.pipe_in, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(config::kBlockTimeoutNs / 1000000)) <= 0) return;
  uint64_t theirs = 0;
  if (read(env.pipe_in, &theirs, sizeof(theirs)) == sizeof(theirs)) {
    const uint64_t now = Now();
    env.t->RecordWakeLatency(now > theirs ? now - theirs : 0);
    env.t->Checkpoint();
  }
}

// Strided read-modify-write over the buffer; returns cache lines touched.
uint64_t CachePass(std::vector<uint8_t>& buf, uint32_t stride) {
  uint64_t touched = 0;
  for (size_t i = 0; i < buf.size(); i += stride, ++touched) buf[i] = buf[i] * 31 + 7;
  return touched;
}

void SpinFor(Telemetry& t, uint64_t ns) {
  const uint64_t end = Now() + ns;
  while (Now() < end && !t.stop_requested()) {
    Spin(1024);
    t.AddWork(1024);
  }
}

int OpenScratchFile() {
  const char* dir = getenv("TMPDIR");
  int fd = open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) fd = static_cast<int>(syscall(SYS_memfd_create, "ktstr-io", 0));
  return fd;
}

void IoOnce(Telemetry& t, int fd, const std::vector<char>& data) {
  if (pwrite(fd, data.data(), data.size(), 0) > 0) fdatasync(fd);
  t.AddWork(1);
  t.Checkpoint();
}

void MutexLock(std::atomic<uint32_t>* m, Telemetry& t) {
  uint32_t c = 0;
  if (m->compare_exchange_strong(c, 1)) return;
  if (c != 2) c = m->exchange(2);
  while (c != 0 && !t.stop_requested()) {
    const uint64_t start = Now();
    FutexWait(m, 2);
    c = m->exchange(2);
    if (c == 0) t.RecordWakeLatency(Now() - start);
  }
}

void MutexUnlock(std::atomic<uint32_t>* m) {
  if (m->exchange(0) == 2) FutexWake(m, 1);
}

// Naive u64 matrix multiply over a footprint of ~kb KiB (three n x n matrices).
uint64_t MatMul(std::vector<uint64_t>& a, std::vector<uint64_t>& b, std::vector<uint64_t>& c,
                size_t n) {
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      uint64_t s = 0;
      for (size_t k = 0; k < n; ++k) s += a[i * n + k] * b[k * n + j];
      c[i * n + j] = s;
    }
  return n * n;
}

void FanOutLoop(WorkLoopEnv& env, bool compute) {
  Telemetry& t = *env.t;
  const WorkType& w = *env.work;
  GroupWords* g = env.group;
  if (env.role == 0) {  // messenger: stamp, publish a generation, wake every receiver
    t.MarkMessenger();
    while (!t.stop_requested()) {
      Spin(w.spin_iters);
      g->stamp_ns.store(Now());
      g->seq.fetch_add(1);
      FutexWake(&g->seq, static_cast<int>(w.fan_out));
      t.AddWork(w.spin_iters);
      t.AddIteration();
      if (compute) SleepNs(t, static_cast<uint64_t>(w.sleep_usec) * 1000);
    }
    return;
  }
  size_t n = 8;
  while (3 * (n + 1) * (n + 1) * sizeof(uint64_t) <= w.cache_footprint_kb * 1024ull) ++n;
  std::vector<uint64_t> a(n * n, 3), b(n * n, 5), c(n * n, 0);
  uint32_t seen = g->seq.load();
  while (!t.stop_requested()) {
    if (g->seq.load() == seen) FutexWait(&g->seq, seen);
    const uint32_t now_seq = g->seq.load();
    if (now_seq == seen) continue;  // timeout: look at the stop flag again
    seen = now_seq;
    const uint64_t stamp = g->stamp_ns.load(), now = Now();
    t.RecordWakeLatency(now > stamp ? now - stamp : 0);
    t.Checkpoint();
    if (compute) {
      for (uint32_t op = 0; op < w.operations; ++op) MatMul(a, b, c, n);
      t.AddWork(w.operations);
    } else {
      Spin(w.spin_iters);
      t.AddWork(w.spin_iters);
    }
    t.AddIteration();
  }
}

}  // namespace

void RunWorkLoop(WorkLoopEnv& env) {
  Telemetry& t = *env.t;
  const WorkType& w = *env.work;
  uint64_t rng = 0x243F6A8885A308D3ull ^ (static_cast<uint64_t>(getpid()) << 17);
  switch (w.kind) {
    case WorkKind::kCpuSpin:
      while (!t.stop_requested()) {
        Spin(1024);
        t.AddWork(1024);
        t.AddIteration();
      }
      return;
    case WorkKind::kYieldHeavy:
      while (!t.stop_requested()) {
        Spin(64);
        sched_yield();
        t.AddWork(64);
        t.AddIteration();
      }
      return;
    case WorkKind::kMixed:
      while (!t.stop_requested()) {
        Spin(1024);
        t.AddWork(1024);
        sched_yield();
        t.AddIteration();
      }
      return;
    case WorkKind::kIoSync: {
      const int fd = OpenScratchFile();
      if (fd < 0) return t.SetError("IoSync: no scratch file (O_TMPFILE and memfd failed)");
      std::vector<char> data(config::kIoBytes, 'k');
      while (!t.stop_requested()) {
        IoOnce(t, fd, data);
        SleepNs(t, config::kIoSleepNs);
        t.AddIteration();
      }
      close(fd);
      return;
    }
    case WorkKind::kBursty:
      while (!t.stop_requested()) {
        SpinFor(t, static_cast<uint64_t>(w.burst.count()) * 1000000);
        SleepNs(t, static_cast<uint64_t>(w.sleep.count()) * 1000000);
        t.Checkpoint();
        t.AddIteration();
      }
      return;
    case WorkKind::kPipeIo:
      while (!t.stop_requested()) {
        Spin(w.spin_iters);
        t.AddWork(w.spin_iters);
        PipeExchange(env);
        t.AddIteration();
      }
      return;
    case WorkKind::kFutexPingPong: {
      GroupWords* g = env.group;
      const uint32_t me = static_cast<uint32_t>(env.role);
      while (!t.stop_requested()) {
        if (g->turn.load() != me) {
          FutexWait(&g->turn, 1 - me);
          if (g->turn.load() != me) continue;
          const uint64_t stamp = g->stamp_ns.load(), now = Now();
          t.RecordWakeLatency(now > stamp ? now - stamp : 0);
          t.Checkpoint();
        }
        Spin(w.spin_iters);
        t.AddWork(w.spin_iters);
        g->stamp_ns.store(Now());
        g->turn.store(1 - me);
        FutexWake(&g->turn, 1);
        t.AddIteration();
      }
      return;
    }
    case WorkKind::kFutexFanOut:
      return FanOutLoop(env, false);
    case WorkKind::kFanOutCompute:
      return FanOutLoop(env, true);
    case WorkKind::kCachePressure:
    case WorkKind::kCacheYield:
    case WorkKind::kCachePipe: {
      std::vector<uint8_t> buf(static_cast<size_t>(w.size_kb) * 1024, 1);
      const uint32_t stride = w.kind == WorkKind::kCachePipe ? 64 : w.stride;
      while (!t.stop_requested()) {
        t.AddWork(CachePass(buf, stride));
        if (w.kind == WorkKind::kCacheYield) sched_yield();
        if (w.kind == WorkKind::kCachePipe) {
          Spin(w.spin_iters);
          PipeExchange(env);
        }
        t.AddIteration();
      }
      return;
    }
    case WorkKind::kSequence: {
      const int fd = OpenScratchFile();
      std::vector<char> data(config::kIoBytes, 's');
      while (!t.stop_requested()) {
        for (const Phase& p : w.phases) {
          if (t.stop_requested()) break;
          const uint64_t ns = static_cast<uint64_t>(p.duration.count()) * 1000;
          const uint64_t end = Now() + ns;
          switch (p.kind) {
            case Phase::Kind::kSpin:
              SpinFor(t, ns);
              break;
            case Phase::Kind::kSleep:
              SleepNs(t, ns);
              t.Checkpoint();
              break;
            case Phase::Kind::kYield:
              while (Now() < end && !t.stop_requested()) {
                sched_yield();
                t.AddWork(1);
              }
              break;
            case Phase::Kind::kIo:
              while (fd >= 0 && Now() < end && !t.stop_requested()) IoOnce(t, fd, data);
              break;
          }
        }
        t.AddIteration();
      }
      if (fd >= 0) close(fd);
      return;
    }
    case WorkKind::kForkExit:
      while (!t.stop_requested()) {
        const pid_t child = fork();
        if (child == 0) _exit(0);
        if (child > 0) {
          while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
          }
        }
        t.AddWork(1);
        t.Checkpoint();
        t.AddIteration();
      }
      return;
    case WorkKind::kNiceSweep: {
      int nice = -20;
      while (!t.stop_requested()) {
        Spin(512);
        t.AddWork(512);
        setpriority(PRIO_PROCESS, 0, nice);  // negative values need CAP_SYS_NICE: best effort
        nice = nice == 19 ? -20 : nice + 1;
        sched_yield();
        t.AddIteration();
      }
      return;
    }
    case WorkKind::kAffinityChurn:
      while (!t.stop_requested()) {
        Spin(w.spin_iters);
        t.AddWork(w.spin_iters);
        if (!env.allowed.empty()) {
          cpu_set_t set;
          CPU_ZERO(&set);
          CPU_SET(env.allowed[XorShift(rng) % env.allowed.size()], &set);
          sched_setaffinity(0, sizeof(set), &set);
        }
        sched_yield();
        t.AddIteration();
      }
      return;
    case WorkKind::kPolicyChurn: {
      // RT policies only when permitted (CAP_SYS_NICE); the cycle then includes them.
      struct sched_param rt = {1};
      const bool rt_ok = sched_setscheduler(0, SCHED_FIFO, &rt) == 0;
      const int cycle[] = {SCHED_OTHER, SCHED_BATCH, SCHED_IDLE, SCHED_FIFO, SCHED_RR};
      const int n = rt_ok ? 5 : 3;
      int i = 0;
      while (!t.stop_requested()) {
        Spin(w.spin_iters);
        t.AddWork(w.spin_iters);
        const int pol = cycle[i++ % n];
        struct sched_param p = {pol == SCHED_FIFO || pol == SCHED_RR ? 1 : 0};
        sched_setscheduler(0, pol, &p);
        t.AddIteration();
      }
      struct sched_param p = {0};
      sched_setscheduler(0, SCHED_OTHER, &p);  // finish the report under a normal policy
      return;
    }
    case WorkKind::kPageFaultChurn: {
      const size_t len = static_cast<size_t>(w.region_kb) * 1024;
      const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
      void* mem = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (mem == MAP_FAILED) return t.SetError("PageFaultChurn: mmap failed");
      madvise(mem, len, MADV_NOHUGEPAGE);
      auto* bytes = static_cast<volatile uint8_t*>(mem);
      while (!t.stop_requested()) {
        for (uint32_t i = 0; i < w.touches_per_cycle; ++i) {
          bytes[(XorShift(rng) % (len / page)) * page] = 1;
        }
        madvise(mem, len, MADV_DONTNEED);
        Spin(w.spin_iters);
        t.AddWork(w.touches_per_cycle);
        t.AddIteration();
      }
      munmap(mem, len);
      return;
    }
    case WorkKind::kMutexContention:
      while (!t.stop_requested()) {
        MutexLock(&env.group->mutex, t);
        Spin(w.hold_iters);
        MutexUnlock(&env.group->mutex);
        Spin(w.spin_iters);
        t.AddWork(w.hold_iters + w.spin_iters);
        t.AddIteration();
      }
      return;
    case WorkKind::kCustom:
      if (w.custom != nullptr) w.custom(t);
      return;
  }
}

}  // namespace ktstr::internal
