// Test-time kernel discovery: ktstr's nine steps, in order (kernel_cache/README.md).
//   1. KTSTR_TEST_KERNEL  — a direct image path.
//   2. KTSTR_KERNEL       — a path (a file, or a tree searched for arch/x86/boot/bzImage),
//                           a version ("6.14.2", prefix "6.14": newest cached match) or a
//                           cache key (exact). A version or key that is not cached skips
//                           step 3 and continues at step 4: it never selects an unrelated
//                           cached kernel.
//   3. the cache          — newest valid entry; entries built with another fragment skipped.
//   4. ./linux/arch/x86/boot/bzImage        5. ../linux/arch/x86/boot/bzImage
//   6. /lib/modules/$(uname -r)/build/arch/x86/boot/bzImage
//   7. /lib/modules/$(uname -r)/vmlinuz     8. /boot/vmlinuz-$(uname -r)   9. /boot/vmlinuz
// Discovery only reads: it never builds or stores. A failure lists every place it tried.
#ifndef KTSTR_KERNEL_CACHE_DISCOVERY_H_
#define KTSTR_KERNEL_CACHE_DISCOVERY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kernel_cache/env.h"
#include "kernel_cache/kernel_cache.h"

namespace ktstr::kcache {

enum class DiscoveryStep {
  kTestKernelEnv = 1,  // KTSTR_TEST_KERNEL
  kKernelEnv,          // KTSTR_KERNEL
  kCache,
  kCwdLinux,
  kParentLinux,
  kModulesBuild,
  kModulesVmlinuz,
  kBootRelease,
  kBootVmlinuz,
};
absl::string_view DiscoveryStepName(DiscoveryStep step);

struct DiscoveredKernel {
  DiscoveryStep step = DiscoveryStep::kCache;
  std::string image_path;          // bzImage (or whatever image was found)
  std::string vmlinux_path;        // ELF with symbols/BTF when known (cache entry or tree); "" else
  std::string config_path;         // .config when known; "" else
  std::string cache_key;           // set for cache hits (step 2 by version/key, step 3)
  std::vector<std::string> tried;  // every place looked at before (and including) the hit
  // What the VMM should boot: vmlinux (PVH) when known, else the image.
  std::string boot_path() const { return vmlinux_path.empty() ? image_path : vmlinux_path; }
};

// `cache` may be null (no cache root could be resolved): step 3 and the version/key forms
// of step 2 then find nothing. NotFound lists every place tried; InvalidArgument when
// KTSTR_TEST_KERNEL or a KTSTR_KERNEL path names something that is not a kernel, since an
// explicit request must not be silently replaced.
absl::StatusOr<DiscoveredKernel> DiscoverKernel(const Env& env, const KernelCache* cache);

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_DISCOVERY_H_
