#include "daemon/executor_factory.h"

#include "absl/strings/str_cat.h"
#include <limits.h>
#include <unistd.h>

#include "daemon/testing/fake_executor.h"
#include "daemon/vm_executor.h"

namespace ktstr::daemon {
namespace {

// ktstr-agent next to ktstrd, or in Bazel's layout (bazel-bin/guest_agent/ktstr-agent).
std::string FindAgent() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string dir = n > 0 ? std::string(buf, n) : ".";
  dir = dir.substr(0, dir.rfind('/'));
  for (const std::string& p : {dir + "/ktstr-agent", dir + "/../guest_agent/ktstr-agent"}) {
    if (access(p.c_str(), R_OK) == 0) return p;
  }
  return dir + "/ktstr-agent";
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobExecutor>> MakeExecutor(const DaemonOptions& options) {
  if (options.executor == "fake") return std::make_unique<FakeExecutor>();
  if (options.executor == "vm") {
    VmExecutorOptions o;
    o.agent_path = options.agent_path.empty() ? FindAgent() : options.agent_path;
    o.state_dir = options.paths.state_dir;
    o.pool.work_dir = absl::StrCat("/tmp/ktstrd-vms-", getuid());  // short: sun_path limit
    o.pool.qemu_pids_dir = options.paths.QemuPidsDir();
    o.pool.default_target = options.pool_target;
    o.pool.idle_ttl = options.pool_idle;
    o.pool.snapshots = options.pool_snapshots;
    absl::StatusOr<std::unique_ptr<VmExecutor>> e = VmExecutor::Create(std::move(o));
    if (!e.ok()) return e.status();
    return std::unique_ptr<JobExecutor>(std::move(*e));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --executor '", options.executor, "' (vm or fake)"));
}

}  // namespace ktstr::daemon
