#include "kernel_cache/kernel_image.h"

#include <elf.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "kernel_cache/fs_util.h"
#include "kernel_cache/subprocess.h"
#include "spdlog/spdlog.h"

namespace ktstr::kcache {
namespace {

// x86 boot protocol: "HdrS" at 0x202, kernel_version pointer (u16, relative to 0x200) at 0x20e.
constexpr uint64_t kSetupHeaderMagicOffset = 0x202;
constexpr uint64_t kKernelVersionPtrOffset = 0x20e;

uint16_t Le16(absl::string_view s, size_t off) {
  return static_cast<uint16_t>(static_cast<uint8_t>(s[off]) |
                               (static_cast<uint8_t>(s[off + 1]) << 8));
}

std::string FirstToken(absl::string_view s) {
  size_t end = s.find_first_of(" \t\n");
  return std::string(s.substr(0, end));
}

}  // namespace

absl::string_view FileKindName(FileKind kind) {
  switch (kind) {
    case FileKind::kBzImage:
      return "bzImage";
    case FileKind::kElf:
      return "ELF";
    case FileKind::kDebPackage:
      return "Debian package";
    case FileKind::kUnknown:
      break;
  }
  return "unknown";
}

FileKind SniffFileKind(const std::string& path) {
  absl::StatusOr<std::string> head = ReadFileRange(path, 0, 0x210);
  if (!head.ok()) return FileKind::kUnknown;
  if (absl::StartsWith(*head,
                       "\x7f"
                       "ELF"))
    return FileKind::kElf;
  if (absl::StartsWith(*head, "!<arch>\ndebian-binary")) return FileKind::kDebPackage;
  if (head->size() >= kSetupHeaderMagicOffset + 4 &&
      head->substr(kSetupHeaderMagicOffset, 4) == "HdrS") {
    return FileKind::kBzImage;
  }
  return FileKind::kUnknown;
}

absl::StatusOr<std::string> BzImageRelease(const std::string& path) {
  absl::StatusOr<std::string> head = ReadFileRange(path, 0, 0x210);
  if (!head.ok()) return head.status();
  if (head->size() < 0x210 || head->substr(kSetupHeaderMagicOffset, 4) != "HdrS") {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a bzImage"));
  }
  uint16_t ptr = Le16(*head, kKernelVersionPtrOffset);
  if (ptr == 0) return absl::NotFoundError(absl::StrCat(path, " has no kernel_version string"));
  absl::StatusOr<std::string> text = ReadFileRange(path, 0x200 + uint64_t{ptr}, 256);
  if (!text.ok()) return text.status();
  std::string release = FirstToken(text->substr(0, text->find('\0')));
  if (release.empty()) return absl::NotFoundError(absl::StrCat(path, ": empty kernel_version"));
  return release;
}

absl::StatusOr<std::string> ElfKernelRelease(const std::string& path) {
  constexpr absl::string_view kBanner = "Linux version ";
  constexpr uint64_t kChunk = 8 << 20;
  for (uint64_t off = 0;; off += kChunk - 256) {
    absl::StatusOr<std::string> chunk = ReadFileRange(path, off, kChunk);
    if (!chunk.ok()) return chunk.status();
    size_t pos = 0;
    while ((pos = absl::string_view(*chunk).find(kBanner, pos)) != std::string::npos) {
      std::string release = FirstToken(absl::string_view(*chunk).substr(pos + kBanner.size(), 128));
      // The banner is followed by "(builder@host)"; format strings ("%s") are not releases.
      if (!release.empty() && std::isdigit(static_cast<unsigned char>(release[0]))) return release;
      pos += kBanner.size();
    }
    if (chunk->size() < kChunk) break;
  }
  return absl::NotFoundError(absl::StrCat("no \"Linux version\" banner in ", path));
}

absl::StatusOr<std::vector<ElfSection>> ReadElfSections(const std::string& path) {
  absl::StatusOr<std::string> eh = ReadFileRange(path, 0, sizeof(Elf64_Ehdr));
  if (!eh.ok()) return eh.status();
  if (eh->size() < sizeof(Elf64_Ehdr) || !absl::StartsWith(*eh, ELFMAG) ||
      (*eh)[EI_CLASS] != ELFCLASS64 || (*eh)[EI_DATA] != ELFDATA2LSB) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a 64-bit little-endian ELF"));
  }
  Elf64_Ehdr hdr;
  std::memcpy(&hdr, eh->data(), sizeof(hdr));
  if (hdr.e_shentsize != sizeof(Elf64_Shdr) || hdr.e_shnum == 0 || hdr.e_shstrndx >= hdr.e_shnum) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no usable section headers"));
  }
  absl::StatusOr<std::string> raw =
      ReadFileRange(path, hdr.e_shoff, uint64_t{hdr.e_shnum} * sizeof(Elf64_Shdr));
  if (!raw.ok()) return raw.status();
  if (raw->size() != uint64_t{hdr.e_shnum} * sizeof(Elf64_Shdr)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated section headers"));
  }
  std::vector<Elf64_Shdr> shdrs(hdr.e_shnum);
  std::memcpy(shdrs.data(), raw->data(), raw->size());
  const Elf64_Shdr& strtab = shdrs[hdr.e_shstrndx];
  absl::StatusOr<std::string> names = ReadFileRange(path, strtab.sh_offset, strtab.sh_size);
  if (!names.ok()) return names.status();
  std::vector<ElfSection> out;
  for (const Elf64_Shdr& s : shdrs) {
    if (s.sh_name >= names->size()) continue;
    out.push_back({std::string(names->c_str() + s.sh_name), s.sh_offset, s.sh_size});
  }
  return out;
}

bool HasSection(const std::vector<ElfSection>& sections, absl::string_view name) {
  for (const ElfSection& s : sections) {
    if (s.name == name) return true;
  }
  return false;
}

bool HasDwarf(const std::vector<ElfSection>& sections) {
  for (const ElfSection& s : sections) {
    if (absl::StartsWith(s.name, ".debug_")) return true;
  }
  return false;
}

absl::StatusOr<bool> BtfHasSchedExt(const std::string& vmlinux_path) {
  absl::StatusOr<std::vector<ElfSection>> sections = ReadElfSections(vmlinux_path);
  if (!sections.ok()) return sections.status();
  for (const ElfSection& s : *sections) {
    if (s.name != ".BTF") continue;
    absl::StatusOr<std::string> btf = ReadFileRange(vmlinux_path, s.offset, s.size);
    if (!btf.ok()) return btf.status();
    // BTF's string table holds type names NUL-terminated.
    return absl::StrContains(*btf, absl::string_view("\0sched_ext_ops\0", 15));
  }
  return false;
}

absl::Status ExtractVmlinux(const std::string& bzimage_path, const std::string& out_path) {
  absl::StatusOr<std::string> image = ReadFileToString(bzimage_path);
  if (!image.ok()) return image.status();
  struct Codec {
    absl::string_view magic;
    std::vector<std::string> cmd;
  };
  const Codec codecs[] = {
      {absl::string_view("\x28\xb5\x2f\xfd", 4), {"zstd", "-dcq"}},
      {absl::string_view("\xfd\x37\x7a\x58\x5a\x00", 6), {"xz", "-dcq"}},
      {absl::string_view("\x1f\x8b\x08", 3), {"gzip", "-dcq"}},
      {absl::string_view("\x02\x21\x4c\x18", 4), {"lz4", "-dcq"}},
  };
  std::string payload = out_path + ".payload";
  for (const Codec& codec : codecs) {
    size_t pos = 0;
    for (int tries = 0; tries < 5; ++tries, ++pos) {
      pos = absl::string_view(*image).find(codec.magic, pos);
      if (pos == std::string::npos) break;
      if (absl::Status s = WriteStringToFile(payload, absl::string_view(*image).substr(pos));
          !s.ok()) {
        return s;
      }
      CommandOptions opts;
      opts.stdin_path = payload;
      opts.stdout_path = out_path;
      // Trailing data after the stream makes the tools exit non-zero; the ELF check decides.
      (void)RunCommand(codec.cmd, opts);
      if (SniffFileKind(out_path) == FileKind::kElf) {
        (void)RemoveTree(payload);
        return absl::OkStatus();
      }
    }
  }
  (void)RemoveTree(payload);
  (void)RemoveTree(out_path);
  return absl::NotFoundError(absl::StrCat("no compressed ELF payload found in ", bzimage_path));
}

absl::StatusOr<bool> CopyStrippedVmlinux(const std::string& in, const std::string& out) {
  absl::StatusOr<std::vector<ElfSection>> before = ReadElfSections(in);
  if (!before.ok()) return before.status();
  if (HasDwarf(*before)) {
    absl::StatusOr<CommandResult> r = RunCommand({"objcopy", "--strip-debug", in, out});
    if (r.ok() && r->ok()) {
      absl::StatusOr<std::vector<ElfSection>> after = ReadElfSections(out);
      if (after.ok() && HasSection(*after, ".BTF") == HasSection(*before, ".BTF") &&
          HasSection(*after, ".symtab") == HasSection(*before, ".symtab")) {
        return true;
      }
      spdlog::warn("objcopy --strip-debug lost .BTF or .symtab of {}; keeping the raw vmlinux", in);
    } else {
      spdlog::warn("objcopy --strip-debug failed on {}; keeping the raw vmlinux", in);
    }
  }
  if (absl::Status s = CopyFile(in, out); !s.ok()) return s;
  return false;
}

}  // namespace ktstr::kcache
