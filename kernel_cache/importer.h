// Adds existing kernels to the cache: a bzImage (+ optional vmlinux and .config), an ELF
// vmlinux alone, Debian packages (.deb) or a directory holding an unpacked Debian kernel
// (tools/setup's <ktstr cache>/debian/<release>/). Kernels built by the client arrive at
// the daemon as content-addressed artifacts: ImportPath sniffs the content, so an artifact
// file named by its sha256 imports the same way as a named file.
#ifndef KTSTR_KERNEL_CACHE_IMPORTER_H_
#define KTSTR_KERNEL_CACHE_IMPORTER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernel_cache/kernel_cache.h"

namespace ktstr::kcache {

struct ImportOptions {
  std::string version;  // overrides the detected release (required when none is found)
  // Identity of a kernel the client built and cached itself (ImportImage only): the daemon
  // stores it under the client's key with its source and fragment hash, so the same key
  // names the same kernel on both sides. Empty = derived here ({release}-image-..., image).
  std::string key;
  std::optional<KernelSource> source;
  std::string kconfig_fragment_hash;  // 8 hex digits, or ""
  bool force = false;                 // replace an existing entry with the same key
  std::string scratch_parent;  // where to unpack .debs and extract vmlinux; "" = $TMPDIR or /tmp
  std::string source_detail;   // recorded in metadata instead of the detected origin
};

struct ImportResult {
  CacheEntry entry;
  bool already_cached = false;  // the key existed and was valid; nothing was written
};

// A bzImage or ELF vmlinux, with optional vmlinux and .config paths ("" = none). For a
// bzImage without a vmlinux, the ELF is extracted from it (PVH boot).
absl::StatusOr<ImportResult> ImportImage(const KernelCache& cache, const std::string& image,
                                         const std::string& vmlinux, const std::string& config,
                                         const ImportOptions& options);

// A directory with an unpacked Debian kernel (see debian_kernel.h).
absl::StatusOr<ImportResult> ImportDebianDir(const KernelCache& cache, const std::string& dir,
                                             const ImportOptions& options);

// One or more .debs (a linux-base companion of a linux-binary package is picked up from
// the same directory automatically).
absl::StatusOr<ImportResult> ImportDebianPackages(const KernelCache& cache,
                                                  const std::vector<std::string>& debs,
                                                  const ImportOptions& options);

// Anything of the above, decided by content: directory, .deb, bzImage or ELF.
absl::StatusOr<ImportResult> ImportPath(const KernelCache& cache, const std::string& path,
                                        const ImportOptions& options);

// The default kernel tools/setup leaves in <ktstr_cache_dir>/debian/default: imported when
// not cached yet (cheap when it is: only the config is hashed). ktstrd calls this at
// startup, so a machine where tools/setup could not run the import still finds the kernel.
// NotFound when tools/setup has not fetched a kernel.
absl::StatusOr<ImportResult> ImportSetupDefaultKernel(const KernelCache& cache,
                                                      const std::string& ktstr_cache_dir);

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_IMPORTER_H_
