// Cache keys: one directory name per cached kernel, in ktstr's forms plus ours.
//   {version}-tarball-{arch}-kc{frag}          kernel.org tarball built with the fragment
//   {version}-debsrc-{arch}-kc{frag}           Debian linux-source-X.Y built with the fragment
//   {ref}-git-{hash7}-{arch}-kc{frag}          git ref
//   local-{hash7}-{arch}[-cfg{crc}]-kc{frag}   clean git tree (with a user .config: cfg)
//   local-unknown-{crc(path)}-{arch}-kc{frag}  tree that is not a git checkout
//   {release}-deb-{arch}-kc{crc(config)}       imported Debian linux-image/linux-binary
//   {release}-image-{arch}-kc{crc(image)}      imported bzImage/vmlinux
// {frag} is the CRC32 of tools/ktstr.kconfig. Kernels we did not build were not configured
// with our fragment, so their `kc` is the CRC32 of their own .config (or of the image when
// there is none): two different packages of one version never share a key.
#ifndef KTSTR_KERNEL_CACHE_CACHE_KEY_H_
#define KTSTR_KERNEL_CACHE_CACHE_KEY_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace ktstr::kcache {

// "x86_64" or "aarch64" for the host; the arch of every key we compute.
std::string HostArch();
// Path of the boot image inside a built source tree, e.g. "arch/x86/boot/bzImage".
std::string ImageRelPathForArch(absl::string_view arch);

// Replaces characters that may not appear in a directory name ('/', whitespace, control
// characters) and a leading '.' with '_'. Versions such as "7.3.4+deb13-cloud-amd64" pass
// unchanged.
std::string SanitizeKeyPart(absl::string_view part);

std::string TarballKey(absl::string_view version, absl::string_view arch, absl::string_view kc);
std::string DebianSourceKey(absl::string_view version, absl::string_view arch,
                            absl::string_view kc);
std::string GitKey(absl::string_view ref, absl::string_view hash7, absl::string_view arch,
                   absl::string_view kc);
std::string LocalKey(absl::string_view hash7, absl::string_view arch,
                     std::optional<absl::string_view> user_config_crc, absl::string_view kc);
std::string LocalUnknownKey(absl::string_view tree_path, absl::string_view arch,
                            absl::string_view kc);
std::string DebianKey(absl::string_view release, absl::string_view arch,
                      absl::string_view config_crc);
std::string ImageKey(absl::string_view release, absl::string_view arch,
                     absl::string_view image_crc);

// True for a string that can be a cache key: non-empty, no '/', not "." or "..", does not
// start with '.' (temporary and lock directories do), printable ASCII only.
bool IsValidKey(absl::string_view key);

// What a KTSTR_KERNEL / --kernel value names (ktstr's rule, kernel_cache/README.md).
enum class KernelSpecKind { kPath, kVersion, kCacheKey };
// A path contains '/' or starts with '.' or '~'; a version is N.N[.N][-rcN] or a prefix
// thereof ("6", "6.14"); anything else is a cache key.
KernelSpecKind ClassifyKernelSpec(absl::string_view spec);

// True when `version` (a kernel release such as "7.3.4+deb13-cloud-amd64") matches the
// requested version or prefix: equal, or starts with it followed by a non-digit character
// ("7.3" matches "7.3.4", "7.3.4" matches "7.3.4+deb13", "7.3.1" does not match "7.3.10").
bool VersionMatches(absl::string_view version, absl::string_view requested);

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_CACHE_KEY_H_
