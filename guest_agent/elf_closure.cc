#include "guest_agent/elf_closure.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "guest_agent/initramfs.h"

namespace ktstr::agent {
namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return path;
  return buf;
}

bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::string> SplitPath(const std::string& list, const std::string& origin) {
  std::vector<std::string> out;
  for (absl::string_view d : absl::StrSplit(list, ':', absl::SkipEmpty())) {
    out.push_back(absl::StrReplaceAll(d, {{"${ORIGIN}", origin}, {"$ORIGIN", origin}}));
  }
  return out;
}

// ld.so.cache flag bits (glibc dl-cache.h).
constexpr int32_t kFlagTypeMask = 0x00ff;
constexpr int32_t kFlagElfLibc6 = 0x0003;
constexpr int32_t kFlagArchMask = 0xff00;
constexpr int32_t kFlagX8664Lib64 = 0x0300;

}  // namespace

absl::StatusOr<ElfInfo> ReadElfInfo(const std::string& path) {
  if (elf_version(EV_CURRENT) == EV_NONE) return absl::InternalError("libelf: version mismatch");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  auto done = [&] {
    if (elf) elf_end(elf);
    ::close(fd);
  };
  if (!elf || elf_kind(elf) != ELF_K_ELF) {
    done();
    return absl::InvalidArgumentError(absl::StrCat(path, " is not an ELF file"));
  }
  ElfInfo info;
  GElf_Ehdr eh;
  if (!gelf_getehdr(elf, &eh)) {
    done();
    return absl::InvalidArgumentError(absl::StrCat(path, ": unreadable ELF header"));
  }
  info.is_64 = gelf_getclass(elf) == ELFCLASS64;
  info.machine = eh.e_machine;
  size_t phnum = 0;
  elf_getphdrnum(elf, &phnum);
  size_t file_size = 0;
  char* raw = elf_rawfile(elf, &file_size);
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr ph;
    if (!gelf_getphdr(elf, static_cast<int>(i), &ph) || ph.p_type != PT_INTERP) continue;
    if (raw && ph.p_offset < file_size && ph.p_filesz > 0 && ph.p_offset + ph.p_filesz <= file_size)
      info.interpreter = std::string(raw + ph.p_offset, strnlen(raw + ph.p_offset, ph.p_filesz));
  }
  // The dynamic section, with its string table.
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data || sh.sh_entsize == 0) continue;
    size_t count = sh.sh_size / sh.sh_entsize;
    for (size_t i = 0; i < count; ++i) {
      GElf_Dyn dyn;
      if (!gelf_getdyn(data, static_cast<int>(i), &dyn)) break;
      if (dyn.d_tag == DT_NULL) break;
      if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RPATH && dyn.d_tag != DT_RUNPATH) continue;
      const char* s = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
      if (!s) continue;
      if (dyn.d_tag == DT_NEEDED) info.needed.emplace_back(s);
      else if (dyn.d_tag == DT_RPATH) info.rpath.emplace_back(s);
      else info.runpath.emplace_back(s);
    }
  }
  done();
  return info;
}

absl::StatusOr<absl::flat_hash_map<std::string, std::string>> ReadLdSoCache(const std::string& path) {
  auto bytes = ReadWholeFile(path);
  if (!bytes.ok()) return bytes.status();
  const std::string& b = *bytes;
  static constexpr char kNewMagic[] = "glibc-ld.so.cache1.1";
  size_t base = b.find(kNewMagic);
  if (base == std::string::npos)
    return absl::InvalidArgumentError(absl::StrCat(path, ": no glibc-ld.so.cache1.1 section"));
  // struct cache_file_new: magic[17] version[3] nlibs u32 len_strings u32 flags u8 pad[3]
  // extension_offset u32 unused[3] u32 = 48 bytes; entries of 24 bytes follow.
  auto u32 = [&](size_t off) -> uint32_t {
    uint32_t v = 0;
    if (off + 4 <= b.size()) std::memcpy(&v, b.data() + off, 4);
    return v;
  };
  const uint32_t nlibs = u32(base + 20);
  constexpr size_t kHeader = 48, kEntry = 24;
  if (base + kHeader + static_cast<size_t>(nlibs) * kEntry > b.size())
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated"));
  auto str_at = [&](uint32_t off) -> std::string {
    size_t abs = base + off;  // string offsets are relative to the new-format header
    if (abs >= b.size()) return "";
    return std::string(b.data() + abs, strnlen(b.data() + abs, b.size() - abs));
  };
  absl::flat_hash_map<std::string, std::string> out;
  for (uint32_t i = 0; i < nlibs; ++i) {
    size_t e = base + kHeader + i * kEntry;
    int32_t flags = static_cast<int32_t>(u32(e));
    if ((flags & kFlagTypeMask) != kFlagElfLibc6 || (flags & kFlagArchMask) != kFlagX8664Lib64) continue;
    std::string key = str_at(u32(e + 4)), value = str_at(u32(e + 8));
    if (!key.empty() && !value.empty()) out.emplace(key, value);  // first entry wins, as in ld.so
  }
  return out;
}

absl::StatusOr<std::vector<ClosureFile>> ElfClosure(const std::vector<std::string>& binaries,
                                                    const ElfClosureOptions& options) {
  auto cache = ReadLdSoCache(options.ld_so_cache);
  absl::flat_hash_map<std::string, std::string> so_cache;
  if (cache.ok()) so_cache = std::move(*cache);

  std::vector<ClosureFile> out;
  std::set<std::string> seen_guest_paths;
  std::set<std::string> visited;  // real paths of ELF files already walked
  struct Work {
    std::string path;      // as found
    std::string needed_by;
  };
  std::deque<Work> queue;
  for (const std::string& b : binaries) queue.push_back({b, ""});
  auto add = [&](const std::string& found_path, const std::string& guest_path) {
    if (seen_guest_paths.insert(guest_path).second) out.push_back({RealPath(found_path), guest_path});
  };

  while (!queue.empty()) {
    Work w = queue.front();
    queue.pop_front();
    std::string real = RealPath(w.path);
    if (!visited.insert(real).second) continue;
    auto info = ReadElfInfo(w.path);
    if (!info.ok()) {
      if (w.needed_by.empty()) return info.status();
      return absl::Status(info.status().code(),
                          absl::StrCat(info.status().message(), " (needed by ", w.needed_by, ")"));
    }
    if (!info->is_64 || info->machine != EM_X86_64)
      return absl::InvalidArgumentError(absl::StrCat(w.path, " is not an x86-64 ELF file"));
    if (!info->interpreter.empty()) {
      if (!IsFile(info->interpreter))
        return absl::NotFoundError(absl::StrCat("interpreter ", info->interpreter, " of ", w.path,
                                                " does not exist on this host"));
      add(info->interpreter, info->interpreter);
      queue.push_back({info->interpreter, w.path});
    }
    const std::string origin = DirName(RealPath(w.path));
    std::vector<std::string> rpath, runpath;
    for (const auto& r : info->rpath) for (auto& d : SplitPath(r, origin)) rpath.push_back(d);
    for (const auto& r : info->runpath) for (auto& d : SplitPath(r, origin)) runpath.push_back(d);
    for (const std::string& lib : info->needed) {
      std::string found, guest;
      if (lib.find('/') != std::string::npos) {
        found = guest = lib;
      } else {
        // Search order of ld.so: RPATH (only without RUNPATH), RUNPATH, cache, defaults.
        std::vector<std::string> dirs = runpath.empty() ? rpath : std::vector<std::string>{};
        dirs.insert(dirs.end(), runpath.begin(), runpath.end());
        for (const auto& d : dirs) {
          std::string cand = absl::StrCat(d, "/", lib);
          if (IsFile(cand)) {
            found = cand;
            break;
          }
        }
        if (found.empty()) {
          auto it = so_cache.find(lib);
          if (it != so_cache.end() && IsFile(it->second)) found = it->second;
        }
        for (size_t i = 0; found.empty() && i < options.default_dirs.size(); ++i) {
          std::string cand = absl::StrCat(options.default_dirs[i], "/", lib);
          if (IsFile(cand)) found = cand;
        }
        // The guest has no ld.so.cache: put every library where its ld.so looks by default.
        guest = absl::StrCat(options.default_dirs.front(), "/", lib);
      }
      if (found.empty() || !IsFile(found))
        return absl::NotFoundError(absl::StrCat("library ", lib, " needed by ", w.path,
                                                " was not found on this host"));
      add(found, guest);
      queue.push_back({found, w.path});
    }
  }
  return out;
}

}  // namespace ktstr::agent
