// KernelMetadata <-> metadata.json, the record of how a cache entry came to be.
// Every field is required when reading: a missing or mistyped field makes the entry
// corrupt (never used), as in ktstr (no defaults for missing fields).
#ifndef KTSTR_KERNEL_CACHE_METADATA_H_
#define KTSTR_KERNEL_CACHE_METADATA_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ktstr::kcache {

// Where a cached kernel came from (mirrors ktstr.v1.KernelSource).
enum class KernelSource { kTarball, kLocal, kDebian, kImage, kGit, kDebianSource };
absl::string_view KernelSourceName(KernelSource s);  // "tarball", "local", "debian", ...
absl::StatusOr<KernelSource> ParseKernelSource(absl::string_view name);

struct KernelMetadata {
  // Schema version of metadata.json; bumped on incompatible changes (older = corrupt).
  static constexpr int64_t kSchemaVersion = 1;

  std::string version;  // kernel release, e.g. "7.3.4+deb13-cloud-amd64"
  KernelSource source = KernelSource::kImage;
  std::string source_detail;          // tree path, package file names or image path; informational
  std::string git_hash;               // full hash for git/local sources; "" otherwise
  std::string arch;                   // "x86_64"
  std::string image_name;             // file name of the boot image in the entry ("bzImage")
  std::string config_hash;            // CRC32 (8 hex) of the full .config; "" when unknown
  std::string kconfig_fragment_hash;  // CRC32 of the ktstr fragment built with; "" if none
  int64_t created_unix_s = 0;         // built or imported, seconds since the epoch
  bool sched_ext = false;             // CONFIG_SCHED_CLASS_EXT=y (or sched_ext BTF types present)
  bool btf = false;                   // the cached vmlinux carries a .BTF section
  bool has_vmlinux = false;           // an uncompressed ELF vmlinux is cached (PVH boot)
  bool vmlinux_stripped = false;      // DWARF was stripped (false: raw copy kept)
  bool has_config = false;            // the .config is cached as `config`

  std::string DebugString() const;
};

std::string MetadataToJson(const KernelMetadata& m);
// InvalidArgument naming the bad or missing field.
absl::StatusOr<KernelMetadata> MetadataFromJson(absl::string_view json);

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_METADATA_H_
