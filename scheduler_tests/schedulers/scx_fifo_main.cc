// scx_fifo: loads the global-FIFO sched_ext scheduler and runs until SIGINT/SIGTERM/SIGUSR2 or
// until the kernel disables it. SIGUSR2 is ktstr's work-conservation watchdog (a test worker
// that waited over 2 s sends it): handled like SIGTERM so the loader detaches and still prints
// its exit record. Unhandled, it killed the loader mid-way through printing the record of a
// kernel-side ejection (workers resume right after the ejection and see their long gap). The policy is described at the top of scx_fifo.bpf.c.
//
// Output contract (read by //guest_agent/sched's supervisor and by people):
//   stdout "scx_fifo: attached"            once the struct_ops link exists
//   stdout "scx_fifo: stats enqueued=..."  periodically (--stats-interval) and at exit
//   stderr libbpf's messages, including the verifier log when loading fails
//   stderr "DEBUG DUMP" block + "EXIT: <reason> (<msg>)" after a kernel-side exit, as the
//          kernel's own tools/sched_ext loaders print it
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

#include <bpf/libbpf.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scheduler_tests/schedulers/scx_fifo_options.h"
#include "scheduler_tests/schedulers/scx_runtime.h"

namespace ktstr::schedulers {
namespace {

namespace config {
// How often the main loop looks for a signal or a kernel-side exit: short enough that a
// supervisor's Stop() is answered quickly, long enough to cost nothing.
constexpr useconds_t kPollIntervalUs = 50 * 1000;
}  // namespace config

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

// libbpf's warnings (verifier logs among them) go to stderr unfiltered; debug chatter does not.
int LibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  return vfprintf(stderr, fmt, args);
}

void PrintStats(const ScxFifo& fifo) {
  absl::StatusOr<ScxFifoStats> stats = fifo.ReadStats();
  if (!stats.ok()) {
    fprintf(stderr, "scx_fifo: %s\n", stats.status().ToString().c_str());
    return;
  }
  std::vector<std::string> parts;
  for (int i = 0; i < SCX_FIFO_NR_STATS; ++i) {
    parts.push_back(absl::StrCat(ScxFifoStatName(i), "=", (*stats)[i]));
  }
  printf("scx_fifo: stats %s\n", absl::StrJoin(parts, " ").c_str());
  fflush(stdout);
}

// The same shape as user_exit_info.h's UEI_REPORT, so logs read like upstream schedulers'.
void PrintExit(const ScxExitInfo& info) {
  if (!info.dump.empty()) {
    fprintf(stderr, "\nDEBUG DUMP\n%s\n\n%s\n%s\n\n", std::string(80, '=').c_str(),
            info.dump.c_str(), std::string(80, '=').c_str());
  }
  fprintf(stderr, "EXIT: %s", info.reason.c_str());
  if (!info.msg.empty()) fprintf(stderr, " (%s)", info.msg.c_str());
  if (info.exit_cpu >= 0) fprintf(stderr, " on CPU %d", info.exit_cpu);
  fprintf(stderr, " [kind %d, code %lld]\n", info.kind, static_cast<long long>(info.exit_code));
}

int Run(const ScxFifoOptions& opts) {
  libbpf_set_print(LibbpfPrint);
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR2, &sa, nullptr);

  absl::StatusOr<std::unique_ptr<ScxFifo>> fifo = ScxFifo::Load(opts);
  if (!fifo.ok()) {
    fprintf(stderr, "scx_fifo: %s\n", fifo.status().ToString().c_str());
    return 1;
  }
  if (g_stop.load()) return 0;  // asked to stop while the verifier ran: never attach
  if (absl::Status st = (*fifo)->Attach(); !st.ok()) {
    fprintf(stderr, "scx_fifo: %s\n", st.ToString().c_str());
    return 1;
  }
  printf("scx_fifo: attached\n");
  fflush(stdout);

  const uint64_t stats_every =
      opts.stats_interval_s == 0 ? 0 : opts.stats_interval_s * 1000000ull / config::kPollIntervalUs;
  for (uint64_t tick = 1; !g_stop.load() && !(*fifo)->Exited(); ++tick) {
    usleep(config::kPollIntervalUs);
    if (stats_every != 0 && tick % stats_every == 0) PrintStats(**fifo);
  }
  PrintStats(**fifo);
  (*fifo)->Detach();  // unregister now; ops.exit has run when this returns
  ScxExitInfo info = (*fifo)->exit_info();
  if (info.kind != 0) PrintExit(info);
  // 0 after every exit, kernel-side ones included: the verdict comes from the kernel's record.
  return 0;
}

}  // namespace
}  // namespace ktstr::schedulers

int main(int argc, char** argv) {
  using ktstr::schedulers::ParseScxFifoOptions;
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<ktstr::schedulers::ScxFifoOptions> opts = ParseScxFifoOptions(args);
  if (!opts.ok()) {
    fprintf(stderr, "scx_fifo: %s\n\n%s", std::string(opts.status().message()).c_str(),
            ktstr::schedulers::ScxFifoUsage().c_str());
    return 2;
  }
  if (opts->help) {
    fputs(ktstr::schedulers::ScxFifoUsage().c_str(), stdout);
    return 0;
  }
  if (opts->exit_now) {
    fprintf(stderr, "scx_fifo: --exit-now=%d: exiting without loading\n", *opts->exit_now);
    return *opts->exit_now;
  }
  return ktstr::schedulers::Run(*opts);
}
