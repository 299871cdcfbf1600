// Facts about kernel image files: what a file is (bzImage, ELF vmlinux, .deb), its release
// string, its ELF sections (BTF, DWARF), extracting the ELF from a bzImage for PVH boot and
// stripping DWARF while keeping symbols and .BTF.
#ifndef KTSTR_KERNEL_CACHE_KERNEL_IMAGE_H_
#define KTSTR_KERNEL_CACHE_KERNEL_IMAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ktstr::kcache {

enum class FileKind { kUnknown, kBzImage, kElf, kDebPackage };
absl::string_view FileKindName(FileKind kind);
// Sniffs the content, never the name (artifacts are stored under their sha256).
FileKind SniffFileKind(const std::string& path);

// The release ("6.14.2", "7.3.4+deb13-cloud-amd64") from the bzImage setup header's
// kernel_version string. NotFound when the header has none.
absl::StatusOr<std::string> BzImageRelease(const std::string& path);
// The release from the "Linux version X ..." banner inside an ELF vmlinux.
absl::StatusOr<std::string> ElfKernelRelease(const std::string& path);

struct ElfSection {
  std::string name;
  uint64_t offset = 0;
  uint64_t size = 0;
};
// Section headers of a 64-bit little-endian ELF. InvalidArgument for anything else.
absl::StatusOr<std::vector<ElfSection>> ReadElfSections(const std::string& path);
bool HasSection(const std::vector<ElfSection>& sections, absl::string_view name);
bool HasDwarf(const std::vector<ElfSection>& sections);  // any .debug_* section

// True when the vmlinux's .BTF names the sched_ext ops type (used when no .config exists).
absl::StatusOr<bool> BtfHasSchedExt(const std::string& vmlinux_path);

// Writes the uncompressed ELF vmlinux carried in a bzImage (zstd, xz, gzip or lz4 payload)
// to `out_path`. Uses the zstd/xz/gzip/lz4 tools. NotFound when no payload decompresses
// to an ELF.
absl::Status ExtractVmlinux(const std::string& bzimage_path, const std::string& out_path);

// Copies `in` to `out` without DWARF (`objcopy --strip-debug`), keeping symbols and .BTF.
// Returns true when stripped; false when the input had no DWARF or stripping would have
// lost .BTF (then `out` is a raw copy and the caller records vmlinux_stripped=false).
absl::StatusOr<bool> CopyStrippedVmlinux(const std::string& in, const std::string& out);

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_KERNEL_IMAGE_H_
