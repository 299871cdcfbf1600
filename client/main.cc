// ktstr-client: the command line over ktstrd's API. A table of subcommands (Ninja's kTools
// shape) and two global options.
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "client/commands.h"
#include "client/exit_codes.h"
#include "client/shell_command.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace {

using ktstr::client::Args;
using ktstr::client::ConnectOptions;

struct Command {
  const char* name;
  const char* help;
  int (*fn)(const ConnectOptions&, const Args&);
  const char* details = nullptr;  // more for `ktstr-client COMMAND --help`
};

constexpr char kTestDetails[] = R"(
Lists each binary's tests (BIN --ktstr-list), uploads the binary and its shared libraries,
runs every selected test in its own VM with the topology, scheduler and duration the test
declares, and prints one line per test as its verdict arrives, then a summary line.

  -E FILTER              tests whose name contains FILTER
  --kernel K             a kernel version (7.3.4) or cache key; default the daemon's
                         (`ktstr-client kernel list`)
  --topology N,L,C,T     override every test's topology (NUMA nodes, LLCs, cores, threads)
  --duration S           override every test's duration
  --label K=V            a label on every job (repeatable)
  --json                 print the finished run as JSON on stdout, nothing else there
  --junit FILE           also write a JUnit XML report (one testcase per job)
  -v                     stream each job's output live on stderr: the test binary's as
                         "[N] line", the sched_ext scheduler loader's as "[N sched] line"
Exit codes: 0 nothing failed (skips are not failures), 1 a test failed, 2 usage, 3 error.
)";

constexpr char kStatsDetails[] = R"(
Results ktstrd stored (SQLite, results.db in its state directory).
  list [--all]      your runs, newest first (the last 50): id, tests, date, arch, outcome;
                    --all: every user's runs
  show [RUN]        one run (default: your latest): each job's verdict and reason, its
                    per-cgroup statistics, console and scheduler-log excerpts
  compare A B [--threshold PCT]
                    pairs the jobs of two runs by test, topology, scheduler and flags, and
                    lists each metric that changed significantly (ktstr's dual gate: an
                    absolute and a relative change per metric; --threshold replaces every
                    relative gate by PCT%). Exit 1 when anything regressed.
)";

constexpr char kPoolDetails[] = R"(
The warm pool: per (kernel, topology, memory, kernel args) a template VM snapshotted after
boot and ready clones restored from it, so a job starts in a fraction of a second.
  status            the budget (vCPUs, MiB in use of ktstrd's budget) and each pool: ready,
                    booting and busy VMs, its target, snapshot or cold-boot mode (and why),
                    the last boot error
  target N,L,C,T COUNT [--memory MB] [--kernel KEY]
                    keep COUNT ready clones of that shape (default kernel: the daemon's);
                    0 releases them. Pools also start on their own when jobs of a shape are
                    queued, and empty themselves after ktstrd's --pool_idle_s unused.
)";

constexpr char kDaemonDetails[] = R"(
  status            version, pid, socket, state directory, results database, accelerator
                    (kvm or tcg), default kernel, active runs, queued/running jobs, VMs
  stop [--drain]    stop ktstrd: queued jobs are cancelled and running ones aborted (their
                    verdicts are stored), every VM is killed; --drain first lets every
                    accepted run finish. Neither ever starts a daemon.
)";

constexpr char kCancelDetails[] = R"(
Queued jobs of RUN end CANCELLED at once; running ones have their VM killed (a VM still
booting stops booting) and end CANCELLED. Only the run's owner (or root) may cancel it.
)";

constexpr char kGauntletDetails[] = R"(
Runs every selected test as many variants, in one run (ktstr's gauntlet):
  variants = tests x presets x flag profiles x kernels, where for each test
  - presets: the 24 topology presets (tiny-1llc ... numa4-12llc), or those named by
    --presets, that satisfy the test's gauntlet constraints (min/max_numa_nodes,
    min/max_llcs, min/max_cpus, requires_smt; from the test or its scheduler, else
    1..1 nodes, 1..12 LLCs, 1..192 CPUs) AND have at most --max-vcpus vCPUs (default: the
    daemon's vCPU budget, `ktstr-client pool status`; presets over it are skipped and counted);
  - profiles: every flag profile of the test's sched_ext scheduler (the power set of its
    flags under the test's required/excluded flags), or those named by --profiles; an EEVDF
    test has the one profile "default";
  - kernels: each --kernel (a version like 7.3.4 or a cache key), default the daemon's.
  Host-only tests never expand. A variant is named gauntlet/TEST/PRESET/PROFILE[/KERNEL] and
  its job carries the labels preset, profile, gauntlet=1 (and kernel with several kernels).

  -E FILTER              tests whose name contains FILTER
  --presets A,B | all    only these presets (unknown names are a usage error)
  --profiles A,B | all   only these flag profiles (a name no selected test has is an error)
  --kernel K             repeatable; one variant per kernel
  --max-vcpus N          skip presets with more than N vCPUs
  --budget SECS          keep only the variants that cover the most configurations (test,
                         scheduler, flags, CPU/LLC/NUMA buckets, SMT, expect_err, duration,
                         kernel) per estimated second within SECS (ktstr's selection; env
                         KTSTR_BUDGET_SECS); prints "ktstr budget: ..." on stderr
  --duration S           override every test's duration
  --label K=V            a label on every job (repeatable; preset, profile, gauntlet and
                         kernel are the gauntlet's own)
  --dry-run              print the variants and every skipped preset with its reason; no run
                         (no daemon needed when --max-vcpus is given); with --json the
                         plan as JSON: vcpu_cap, variants (name, binary, test, preset,
                         topology, vcpus, profile, kernel), over_cap, constraint_skips,
                         host_only
  --json, --junit FILE, -v   as for `test`

Output: one line per job as `test` prints it, then a matrix (rows test/profile, columns
presets; cells PASS, FAIL = FAIL/TIMEOUT/CRASH/SCHED_DIED/NOT_ATTACHED/EJECTED, SKIP,
ERR = ktstr's own error/cancelled/interrupted, - = not a variant) and the summary line.
Exit codes as `test`: 0 nothing failed, 1 a variant failed, 2 usage, 3 error.
)";

constexpr Command kCommands[] = {
    {"test", "BINARY... [-E FILTER] [--kernel K] [--topology N,L,C,T] [--duration S] [--json]"
             " [--junit FILE] [--label K=V] [-v]\n      run the tests of ktstr test binaries in VMs",
     ktstr::client::TestCommand, kTestDetails},
    {"gauntlet", "BINARY... [-E FILTER] [--presets NAME,...|all] [--profiles NAME,...|all]"
                 " [--kernel K]... [--max-vcpus N] [--budget SECS] [--duration S] [--label K=V]"
                 " [--json]"
                 " [--junit FILE] [--dry-run] [-v]\n      every test x topology preset x flag"
                 " profile x kernel",
     ktstr::client::GauntletCommand, kGauntletDetails},
    {"stats", "list [--all] | show [RUN] | compare A B [--threshold PCT]\n"
              "      stored results", ktstr::client::StatsCommand, kStatsDetails},
    {"pool", "status | target N,L,C,T COUNT [--memory MB] [--kernel KEY]\n      the warm VM pool",
     ktstr::client::PoolCommand, kPoolDetails},
    {"kernel", "list [--json] | import PATH [--vmlinux F] [--config F] [--version V] [--default]"
               " | remove KEY | clean [--keep N] [--corrupt-only]"
               " | build [VERSION] [--source DIR] [--force] [--clean] [-j N] [--default]\n"
               "      guest kernels the daemon can boot (its kernel cache)",
     ktstr::client::KernelCommand},
    {"daemon", "status | stop [--drain]\n      the daemon itself", ktstr::client::DaemonCommand,
     kDaemonDetails},
    {"cancel", "RUN\n      cancel a run's queued and running jobs", ktstr::client::CancelCommand,
     kCancelDetails},
    {"shell", ktstr::client::kShellUsage, ktstr::client::ShellCommand},
};

void PrintHelp() {
  printf("ktstr-client: run scheduler tests in VMs through ktstrd, and read their results.\n\n"
         "usage: ktstr-client [--socket PATH] [--no-autostart] COMMAND ARGS...\n\n"
         "  --socket PATH    ktstrd's socket (default $XDG_RUNTIME_DIR/ktstr/ktstrd.sock)\n"
         "  --no-autostart   fail instead of starting a per-user ktstrd when none answers\n\n"
         "commands:\n");
  for (const Command& c : kCommands) printf("  %s %s\n", c.name, c.help);
  printf("\nexit codes: 0 ok / all passed, 1 a test failed, 2 usage, 3 error\n");
}

}  // namespace

int main(int argc, char** argv) {
  // Libraries the client links (kernel_cache for `kernel build`) log through spdlog: their
  // warnings go to stderr, never into the command's output; info is noise here.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("ktstr-client"));
  spdlog::set_pattern("ktstr-client: %l: %v");
  spdlog::set_level(spdlog::level::warn);
  ConnectOptions conn;
  int i = 1;
  for (; i < argc && absl::StartsWith(argv[i], "-"); ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      PrintHelp();
      return ktstr::client::kExitOk;
    } else if (a == "--no-autostart") {
      conn.autostart = false;
    } else if (a == "--socket" && i + 1 < argc) {
      conn.socket_path = argv[++i];
    } else if (absl::StartsWith(a, "--socket=")) {
      conn.socket_path = a.substr(strlen("--socket="));
    } else {
      fprintf(stderr, "ktstr-client: unknown option %s (see --help)\n", a.c_str());
      return ktstr::client::kExitUsage;
    }
  }
  if (i >= argc) {
    PrintHelp();
    return ktstr::client::kExitUsage;
  }
  Args args(argv + i + 1, argv + argc);
  for (const Command& c : kCommands) {
    if (std::strcmp(c.name, argv[i]) == 0) {
      if (c.details != nullptr && !args.empty() && (args[0] == "--help" || args[0] == "-h")) {
        printf("ktstr-client %s %s\n%s", c.name, c.help, c.details ? c.details : "");
        return ktstr::client::kExitOk;
      }
      return c.fn(conn, args);
    }
  }
  fprintf(stderr, "ktstr-client: unknown command '%s' (see --help)\n", argv[i]);
  return ktstr::client::kExitUsage;
}
