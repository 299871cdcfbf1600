// ktstrd: flags, logging, signals; builds the Daemon, serves until stopped.
#include <grp.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/numbers.h"
#include "daemon/daemon.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(bool, system, false,
          "System mode: socket /run/ktstr/ktstrd.sock (mode 0660, --socket_group), state in "
          "/var/lib/ktstr. Default: per-user mode ($XDG_RUNTIME_DIR/ktstr/ktstrd.sock, state "
          "in $XDG_STATE_HOME/ktstr).");
ABSL_FLAG(std::string, socket, "", "Unix socket to serve on (overrides the mode's default).");
ABSL_FLAG(std::string, state_dir, "", "State directory (artifacts, logs, QEMU pid records).");
ABSL_FLAG(std::string, results_db, "", "SQLite results file (default <state_dir>/results.db).");
ABSL_FLAG(std::string, socket_group, "ktstr",
          "System mode: group owning the socket; its members may connect.");
ABSL_FLAG(std::string, socket_mode, "", "Socket permission bits in octal (default 0600, or "
          "0660 in system mode).");
ABSL_FLAG(uint32_t, vcpu_budget, 0, "vCPUs all VMs may use at once (0 = host CPUs).");
ABSL_FLAG(uint64_t, memory_budget_mb, 0, "Guest RAM all VMs may use at once (0 = half the "
          "host's RAM).");
ABSL_FLAG(uint64_t, max_artifact_mb, 512, "Largest accepted upload, in MiB.");
ABSL_FLAG(std::string, kernel_cache_dir, "", "Kernel cache the guest kernels come from "
          "(default: <state_dir>/kernels in system mode, else "
          "${KTSTR_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/ktstr}/kernels). The kernel "
          "tools/setup fetched is imported into it at startup.");
ABSL_FLAG(uint32_t, pool_target, 1, "Ready clones to keep per (kernel, shape) in use.");
ABSL_FLAG(uint32_t, pool_idle_s, 600, "Release a (kernel, shape)'s ready clones and template "
          "after this many seconds without jobs of it (0 = never).");
ABSL_FLAG(uint32_t, boot_allowance_s, 300, "Seconds allowed for obtaining a VM, added to a "
          "job's duration in its timeout (TCG boots are slow).");
ABSL_FLAG(std::string, agent, "", "The static guest agent (default: ktstr-agent next to "
          "ktstrd, or bazel-bin/guest_agent/ktstr-agent).");
ABSL_FLAG(std::string, pool, "snapshot", "snapshot: warm clones restored from a template "
          "snapshot; cold: every VM boots cold.");
ABSL_FLAG(std::string, executor, "vm", "vm: QEMU VMs; fake: no VMs (daemon tests only).");
ABSL_FLAG(std::string, testonly_fake_peer_cred_file, "",
          "Tests only: while this file exists and holds \"UID GID\", new connections are "
          "attributed to that user instead of their SO_PEERCRED credentials.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error.");

namespace {

ktstr::daemon::DaemonOptions OptionsFromFlags() {
  using ktstr::daemon::StatePaths;
  ktstr::daemon::DaemonOptions o;
  bool system = absl::GetFlag(FLAGS_system);
  o.paths = system ? StatePaths::ForSystem() : StatePaths::ForUser();
  if (!absl::GetFlag(FLAGS_socket).empty()) o.paths.socket_path = absl::GetFlag(FLAGS_socket);
  if (!absl::GetFlag(FLAGS_state_dir).empty()) {
    o.paths.state_dir = absl::GetFlag(FLAGS_state_dir);
    o.paths.results_db = o.paths.state_dir + "/results.db";
  }
  if (!absl::GetFlag(FLAGS_results_db).empty()) o.paths.results_db = absl::GetFlag(FLAGS_results_db);
  o.socket_mode = system ? 0660 : 0600;
  unsigned mode;
  if (!absl::GetFlag(FLAGS_socket_mode).empty() &&
      absl::numbers_internal::safe_strtou32_base(absl::GetFlag(FLAGS_socket_mode), &mode, 8)) {
    o.socket_mode = mode;
  }
  if (system) {
    if (struct group* g = getgrnam(absl::GetFlag(FLAGS_socket_group).c_str())) o.socket_gid = g->gr_gid;
  }
  o.budget = {absl::GetFlag(FLAGS_vcpu_budget), absl::GetFlag(FLAGS_memory_budget_mb)};
  o.max_artifact_bytes = absl::GetFlag(FLAGS_max_artifact_mb) << 20;
  o.kernel_cache_dir = absl::GetFlag(FLAGS_kernel_cache_dir);
  o.pool_target = absl::GetFlag(FLAGS_pool_target);
  o.pool_idle = absl::GetFlag(FLAGS_pool_idle_s) == 0
                    ? absl::InfiniteDuration()
                    : absl::Seconds(absl::GetFlag(FLAGS_pool_idle_s));
  o.boot_allowance_s = absl::GetFlag(FLAGS_boot_allowance_s);
  o.executor = absl::GetFlag(FLAGS_executor);
  o.agent_path = absl::GetFlag(FLAGS_agent);
  o.pool_snapshots = absl::GetFlag(FLAGS_pool) != "cold";
  o.testonly_fake_peer_cred_file = absl::GetFlag(FLAGS_testonly_fake_peer_cred_file);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ktstrd: the ktstr daemon. Keeps warm VMs per (kernel, topology), runs scheduler tests "
      "submitted by ktstr-client, stores results in SQLite.\n"
      "  ktstrd                      per-user daemon (ktstr-client starts one for you)\n"
      "  ktstrd --system             system daemon (see daemon/systemd/ktstrd.service)\n"
      "  ktstrd --flagfile=FILE      read flags from a config file, one --flag=value a line");
  absl::FlagsUsageConfig cfg;
  cfg.contains_help_flags = [](absl::string_view) { return true; };
  absl::SetFlagsUsageConfig(cfg);
  absl::ParseCommandLine(argc, argv);

  // stderr, no colours: journald and log files read it as is.
  auto logger = spdlog::stderr_logger_mt("ktstrd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(absl::GetFlag(FLAGS_log_level)));
  spdlog::flush_on(spdlog::level::info);

  // Signals go to one waiting thread, not to arbitrary threads.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<ktstr::daemon::Daemon>> daemon =
      ktstr::daemon::Daemon::Start(OptionsFromFlags());
  if (!daemon.ok()) {
    spdlog::error("ktstrd cannot start: {}", std::string(daemon.status().message()));
    return 1;
  }
  ktstr::daemon::Daemon* d = daemon->get();
  std::thread([set, d] {
    int sig = 0;
    sigwait(&set, &sig);
    spdlog::info("signal {}: stopping", sig);
    d->RequestStop(false);
  }).detach();
  d->Wait();
  return 0;
}
