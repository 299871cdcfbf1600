// `build VERSION`: obtain a source tree for a kernel version, then BuildSourceTree.
// Sources, in order:
//   1. Debian's linux-source-X.Y package, through the private apt tree tools/setup creates
//      (APT_CONFIG=<ktstr cache>/apt/etc/apt.conf; falls back to the system's apt). Used
//      when the request is X.Y, or X.Y.Z and Debian's upstream version is X.Y.Z.
//   2. The kernel.org tarball, when cdn.kernel.org is reachable (it is not on this machine:
//      the check fails fast and the error says so).
// Unpacked trees stay in <ktstr cache>/build/ so a rebuild is incremental.
#ifndef KTSTR_KERNEL_CACHE_KERNEL_SOURCE_H_
#define KTSTR_KERNEL_CACHE_KERNEL_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "kernel_cache/kernel_builder.h"

namespace ktstr::kcache {

namespace config {
// DNS + TCP to kernel.org; longer means it is not reachable from here (no outside network).
inline constexpr absl::Duration kKernelOrgProbeTimeout = absl::Seconds(5);
// apt-get download of linux-source (~150 MB) from Debian's archive.
inline constexpr absl::Duration kAptDownloadTimeout = absl::Minutes(20);
}  // namespace config

struct SourceTree {
  std::string dir;               // top of the unpacked tree
  std::string upstream_version;  // "6.12.117"
  std::string origin;  // "linux-source-6.12_6.12.117-1~deb12u1_all.deb" or the tarball URL
  KernelSource source = KernelSource::kDebianSource;
};

// "6.12" from "6.12.117" or "6.12"; InvalidArgument for anything else.
absl::StatusOr<std::string> MajorMinor(const std::string& version);

// Downloads and unpacks linux-source-X.Y into <ktstr_cache_dir>/build/. Reuses an existing
// unpacked tree of the same package version.
absl::StatusOr<SourceTree> FetchDebianSource(const std::string& version,
                                             const std::string& ktstr_cache_dir,
                                             const ProgressFn& progress);

// Downloads and unpacks linux-X.Y.Z.tar.xz from cdn.kernel.org. Unavailable (fast) when
// kernel.org cannot be reached.
absl::StatusOr<SourceTree> FetchKernelOrgTarball(const std::string& version,
                                                 const std::string& ktstr_cache_dir,
                                                 const ProgressFn& progress);

// Source 1, else source 2, then BuildSourceTree with the version's cache key
// ({version}-debsrc-... or {version}-tarball-...). `options.source_dir` is ignored.
absl::StatusOr<BuildResult> BuildVersion(const KernelCache& cache, const std::string& version,
                                         const std::string& ktstr_cache_dir, BuildOptions options);

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_KERNEL_SOURCE_H_
