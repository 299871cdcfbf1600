// Every path inside the kernel cache (LevelDB filename.h style: nothing else concatenates
// cache paths).
//
// Root: ${KTSTR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ktstr}/kernels. KTSTR_CACHE_DIR
// is the ktstr cache root shared with tools/setup (which keeps apt/ and debian/ there), so
// kernels live one level down; the daemon in system mode passes its own state dir instead.
//
//   <root>/<key>/bzImage        boot image (or Image on aarch64; "vmlinux" for ELF-only)
//   <root>/<key>/vmlinux        uncompressed ELF, DWARF stripped, symbols + .BTF kept
//   <root>/<key>/config         the kernel's .config
//   <root>/<key>/metadata.json  KernelMetadata (metadata.h)
//   <root>/.tmp-<key>-<pid>     entry being written; renamed into place atomically
//   <root>/.locks/<key>.lock    flock: exclusive while writing/removing, shared while in use
#ifndef KTSTR_KERNEL_CACHE_CACHE_LAYOUT_H_
#define KTSTR_KERNEL_CACHE_CACHE_LAYOUT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kernel_cache/env.h"

namespace ktstr::kcache {

// The ktstr cache root (without /kernels): KTSTR_CACHE_DIR, else $XDG_CACHE_HOME/ktstr,
// else $HOME/.cache/ktstr. Empty values count as unset. FailedPrecondition when none of
// KTSTR_CACHE_DIR, XDG_CACHE_HOME and HOME is set.
absl::StatusOr<std::string> KtstrCacheDir(const Env& env);
// KtstrCacheDir(env) + "/kernels".
absl::StatusOr<std::string> DefaultKernelCacheRoot(const Env& env);

class CacheLayout {
 public:
  explicit CacheLayout(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string EntryDir(absl::string_view key) const;
  std::string MetadataPath(absl::string_view key) const;
  std::string FileInEntry(absl::string_view key, absl::string_view name) const;
  std::string TempDir(absl::string_view key, long pid) const;
  std::string LocksDir() const;
  std::string LockPath(absl::string_view key) const;

  static constexpr absl::string_view kMetadataName = "metadata.json";
  static constexpr absl::string_view kVmlinuxName = "vmlinux";
  static constexpr absl::string_view kConfigName = "config";
  static constexpr absl::string_view kTempPrefix = ".tmp-";

 private:
  std::string root_;
};

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_CACHE_LAYOUT_H_
