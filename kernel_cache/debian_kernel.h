// Debian kernel packages: linux-image-<release> (one .deb with /boot or /usr/lib/modules
// files) or, from 7.x, linux-binary-<release> (vmlinuz) + linux-base-<release> (config,
// System.map). Also the directory tools/setup leaves in <ktstr cache>/debian/<release>/
// (vmlinuz, vmlinux, config, System.map, release, packages).
#ifndef KTSTR_KERNEL_CACHE_DEBIAN_KERNEL_H_
#define KTSTR_KERNEL_CACHE_DEBIAN_KERNEL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ktstr::kcache {

struct DebianKernelFiles {
  std::string release;   // "7.3.4+deb13-cloud-amd64"
  std::string vmlinuz;   // the bzImage
  std::string vmlinux;   // uncompressed ELF when already present ("" otherwise)
  std::string config;    // "" when no config was found
  std::string packages;  // package file names, comma-separated (informational)
};

// Finds the kernel files in a directory: tools/setup's layout, or a tree unpacked with
// `dpkg -x` (usr/lib/modules/<rel>/ or boot/). NotFound says what is missing.
absl::StatusOr<DebianKernelFiles> LocateDebianKernel(const std::string& dir);

// The .debs to unpack for `deb`: the file itself plus, for linux-binary-<rel>_*.deb, a
// linux-base-<rel>_*.deb lying next to it (which carries the config).
std::vector<std::string> CompanionDebs(const std::string& deb);

// `dpkg-deb -x` every package into `dest`.
absl::Status UnpackDebs(const std::vector<std::string>& debs, const std::string& dest);

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_DEBIAN_KERNEL_H_
