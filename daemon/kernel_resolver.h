// Which guest kernel a job runs on, and the kernel RPCs' core. The daemon core asks this
// interface; the implementation sits over kernel_cache/ (cache_kernel_resolver.h).
#ifndef KTSTR_DAEMON_KERNEL_RESOLVER_H_
#define KTSTR_DAEMON_KERNEL_RESOLVER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/ktstr/v1/kernel.pb.h"

namespace ktstr::daemon {

struct ResolvedKernel {
  std::string key;          // the real cache key, part of the warm-pool key
  std::string image_path;   // what QEMU boots (an ELF vmlinux boots with PVH)
  std::string config_path;  // the kernel's .config, "" when none is cached
  std::string release;      // `uname -r` in the guest, e.g. "7.3.4+deb13-cloud-amd64"
  // Holds the cache entry (a shared flock) while a job uses it: RemoveKernel/CleanKernels
  // cannot pull the files from under a booting VM. Opaque so JobRequest needs no kcache.
  std::shared_ptr<const void> pin;
};

// What ImportKernel adds, with artifacts already turned into verified host paths.
struct KernelImport {
  std::string path;          // bzImage, ELF vmlinux, .deb or (host imports) a directory
  std::string vmlinux_path;  // optional companion of a bzImage
  std::string config_path;   // optional .config
  std::string version;       // optional override of the detected release
  std::string cache_key;     // a client-built kernel keeps its key ("" = derived)
  ktstr::v1::KernelSource source = ktstr::v1::KERNEL_SOURCE_UNSPECIFIED;
  std::string kconfig_fragment_hash;
  bool make_default = false;
  bool replace = false;  // drop an entry stored under cache_key first (a forced rebuild)
};

class KernelResolver {
 public:
  virtual ~KernelResolver() = default;
  // NOT_FOUND (listing what is cached) for a key or version that is not available; never
  // falls back to another kernel. DATA_LOSS for a corrupt entry named by its key.
  virtual absl::StatusOr<ResolvedKernel> Resolve(const ktstr::v1::KernelRef& ref) = 0;
  // Newest first, corrupt last; the default marked.
  virtual std::vector<ktstr::v1::KernelEntry> List() = 0;
  // The key KernelRef{use_default} resolves to now; "" when no valid kernel is cached.
  virtual std::string DefaultKey() = 0;
  // INVALID_ARGUMENT for unusable input (not a kernel, bad key), idempotent for a kernel
  // already cached.
  virtual absl::StatusOr<ktstr::v1::KernelEntry> Import(const KernelImport& request) = 0;
  // NOT_FOUND when absent; FAILED_PRECONDITION while a job or VM holds it.
  virtual absl::Status Remove(const std::string& key) = 0;
  // Removes corrupt entries and (unless corrupt_only) valid ones beyond the newest `keep`;
  // never the default nor entries in use. Returns the removed keys.
  virtual absl::StatusOr<std::vector<std::string>> Clean(uint32_t keep, bool corrupt_only) = 0;
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_KERNEL_RESOLVER_H_
