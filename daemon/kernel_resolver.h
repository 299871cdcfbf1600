// Which guest kernel a job runs on. The daemon core asks this interface; the real
// implementation will sit over kernel_cache/ when it lands. Until then DirKernelResolver
// serves the one kernel tools/setup unpacks.
#ifndef KTSTR_DAEMON_KERNEL_RESOLVER_H_
#define KTSTR_DAEMON_KERNEL_RESOLVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/ktstr/v1/kernel.pb.h"

namespace ktstr::daemon {

struct ResolvedKernel {
  std::string key;          // cache key, part of the warm-pool key
  std::string image_path;   // what QEMU boots (an ELF vmlinux boots with PVH)
};

class KernelResolver {
 public:
  virtual ~KernelResolver() = default;
  // NOT_FOUND (with what to do) for a key or version that is not available; never falls
  // back to another kernel.
  virtual absl::StatusOr<ResolvedKernel> Resolve(const ktstr::v1::KernelRef& ref) = 0;
  virtual std::vector<ktstr::v1::KernelEntry> List() = 0;
};

// One kernel from a directory holding `vmlinux` (and optionally `config`), e.g.
// ~/.cache/ktstr/debian/default. Its key is `key`; version refs match a prefix of `version`
// (read from the directory's `version` file if present, else "").
std::unique_ptr<KernelResolver> NewDirKernelResolver(std::string dir, std::string key);

// ${KTSTR_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/ktstr}/debian/default
std::string DefaultKernelDir();

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_KERNEL_RESOLVER_H_
