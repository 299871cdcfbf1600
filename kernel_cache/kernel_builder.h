// Builds a kernel source tree with the ktstr fragment and stores the result in the cache:
//   [make mrproper] -> make defconfig (no .config) -> append tools/ktstr.kconfig ->
//   make olddefconfig -> check the required options survived -> make -jN bzImage ->
//   store (clean git trees and fetched sources only; a dirty tree is built but not cached).
// Progress is reported through a callback; the make log is kept on failure.
#ifndef KTSTR_KERNEL_CACHE_KERNEL_BUILDER_H_
#define KTSTR_KERNEL_CACHE_KERNEL_BUILDER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kernel_cache/kernel_cache.h"
#include "kernel_cache/metadata.h"

namespace ktstr::kcache {

namespace config {
// Non-compile make steps (defconfig, olddefconfig, kernelrelease) never take this long; a
// hang there is a broken tree, not a slow machine (ktstr uses a 30-minute timeout).
inline constexpr absl::Duration kMakeConfigTimeout = absl::Minutes(30);
// A full defconfig+fragment build of 6.12 took 21 min on 2 shared cores (tools/bench/
// kernel-build; ~45 min was seen under heavier load).
inline constexpr absl::Duration kMakeBuildTimeout = absl::Hours(4);
}  // namespace config

enum class BuildPhase { kFetch, kUnpack, kConfigure, kCompile, kVerify, kStore, kDone };
absl::string_view BuildPhaseName(BuildPhase phase);

struct BuildProgress {
  BuildPhase phase = BuildPhase::kConfigure;
  absl::Duration elapsed;  // since the build started
  int64_t done = 0;        // units of work done in this phase (compile: objects)
  int64_t total = 0;       // 0 = unknown (no bar); compile: from the previous build's log
  std::string detail;      // the last line of output, or what is happening
};
using ProgressFn = std::function<void(const BuildProgress&)>;

struct BuildOptions {
  std::string source_dir;       // kernel tree (Makefile + Kconfig at its top)
  bool force = false;           // rebuild even when the key is cached
  bool clean = false;           // `make mrproper` first (drops a user .config!)
  int jobs = 0;                 // make -j; 0 = number of online CPUs
  bool configure_only = false;  // stop after the required-options check (no compile, no store)
  ProgressFn progress;          // may be empty
  // Set by the version builds (kernel_source.h): the tree is a fetched source, stored under
  // this key with this source kind regardless of git state.
  std::optional<std::string> key_override;
  KernelSource source = KernelSource::kLocal;
  std::string source_detail;
};

struct BuildResult {
  bool cache_hit = false;  // nothing built: the key was cached
  bool stored = false;     // the result is in the cache (entry is valid)
  CacheEntry entry;
  std::string image_path;  // in the tree (or the cache on a hit)
  std::string vmlinux_path;
  std::string not_stored_reason;  // why a successful build was not cached (dirty tree)
  absl::Duration elapsed;
};

// FailedPrecondition naming the missing CONFIG_ options when the fragment did not survive;
// Internal with the log path and its tail when make fails.
absl::StatusOr<BuildResult> BuildSourceTree(const KernelCache& cache, const BuildOptions& options);

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_KERNEL_BUILDER_H_
