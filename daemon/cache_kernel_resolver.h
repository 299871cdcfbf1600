// KernelResolver over kcache::KernelCache: the daemon's kernels are the cache's entries.
// Default = the entry marked with ImportKernel{make_default} (a key in `default_marker`)
// while it is valid, else the cache's newest valid entry (ktstr's rule).
#ifndef KTSTR_DAEMON_CACHE_KERNEL_RESOLVER_H_
#define KTSTR_DAEMON_CACHE_KERNEL_RESOLVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/kernel_resolver.h"

namespace ktstr::daemon {

// `cache_root`: the kernel cache directory (may not exist yet). `default_marker`: file
// holding the key made default by ImportKernel (in the daemon's state dir).
absl::StatusOr<std::unique_ptr<KernelResolver>> NewCacheKernelResolver(
    std::string cache_root, std::string default_marker);

// The cache root for a daemon: `flag_value` when set; in system mode
// `<state_dir>/kernels`; else ${KTSTR_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/ktstr}/kernels
// (~ from the password database when HOME is unset, as under systemd or bazel test).
absl::StatusOr<std::string> DaemonKernelCacheRoot(const std::string& flag_value,
                                                  bool system_mode,
                                                  const std::string& state_dir);

// Imports the kernel tools/setup fetched (<ktstr cache>/debian/default) into `cache_root`
// when it is not there yet. Cheap when cached; NOT_FOUND when tools/setup fetched none.
absl::Status ImportSetupKernel(const std::string& cache_root);

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_CACHE_KERNEL_RESOLVER_H_
