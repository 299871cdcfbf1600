#include "kernel_cache/importer.h"

#include <cstdlib>
#include <ctime>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernel_cache/cache_key.h"
#include "kernel_cache/debian_kernel.h"
#include "kernel_cache/fs_util.h"
#include "kernel_cache/kconfig.h"
#include "kernel_cache/kernel_image.h"

namespace ktstr::kcache {
namespace {

std::string ScratchParent(const ImportOptions& o) {
  if (!o.scratch_parent.empty()) return o.scratch_parent;
  const char* tmp = std::getenv("TMPDIR");
  return (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
}

absl::StatusOr<ImportResult> Existing(const KernelCache& cache, const std::string& key,
                                      const ImportOptions& o) {
  if (o.force) return absl::NotFoundError("forced");
  absl::StatusOr<CacheEntry> e = cache.Get(key);
  if (!e.ok()) return e.status();
  return ImportResult{*std::move(e), /*already_cached=*/true};
}

// Shared tail of every import: sched_ext from the config (or BTF), then Store.
absl::StatusOr<ImportResult> StoreImported(const KernelCache& cache, const std::string& key,
                                           const StagedKernel& files, KernelMetadata m) {
  m.arch = HostArch();
  m.created_unix_s = static_cast<int64_t>(std::time(nullptr));
  m.sched_ext = false;
  if (!files.config_path.empty()) {
    absl::StatusOr<KconfigValues> cfg = ReadKconfigFile(files.config_path);
    if (!cfg.ok()) return cfg.status();
    m.sched_ext = HasSchedExt(*cfg);
  } else {
    std::string elf = m.image_name == "vmlinux" ? files.image_path : files.vmlinux_path;
    if (!elf.empty()) {
      absl::StatusOr<bool> scx = BtfHasSchedExt(elf);
      m.sched_ext = scx.ok() && *scx;
    }
  }
  absl::StatusOr<CacheEntry> e = cache.Store(key, files, std::move(m));
  if (!e.ok()) return e.status();
  return ImportResult{*std::move(e), false};
}

// The `kc` of an imported kernel: its config's CRC, else the image's.
absl::StatusOr<std::string> ImportedKc(const std::string& config, const std::string& image) {
  return FileCrc32Hex(config.empty() ? image : config);
}

}  // namespace

absl::StatusOr<ImportResult> ImportImage(const KernelCache& cache, const std::string& image,
                                         const std::string& vmlinux, const std::string& config,
                                         const ImportOptions& options) {
  FileKind kind = SniffFileKind(image);
  if (kind != FileKind::kBzImage && kind != FileKind::kElf) {
    return absl::InvalidArgumentError(
        absl::StrCat(image, " is neither a bzImage nor an ELF vmlinux (", FileKindName(kind), ")"));
  }
  if (!vmlinux.empty() && SniffFileKind(vmlinux) != FileKind::kElf) {
    return absl::InvalidArgumentError(absl::StrCat(vmlinux, " is not an ELF vmlinux"));
  }
  if (!config.empty() && !IsRegularFile(config)) {
    return absl::NotFoundError(absl::StrCat("config ", config, " does not exist"));
  }
  std::string release = options.version;
  if (release.empty()) {
    absl::StatusOr<std::string> r =
        kind == FileKind::kBzImage ? BzImageRelease(image) : ElfKernelRelease(image);
    if (!r.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot tell the kernel version of ", image,
                                                     " (", r.status().message(),
                                                     "); pass --version"));
    }
    release = *r;
  }
  absl::StatusOr<std::string> kc = ImportedKc(config, image);
  if (!kc.ok()) return kc.status();
  std::string key = options.key.empty() ? ImageKey(release, HostArch(), *kc) : options.key;
  if (!IsValidKey(key))
    return absl::InvalidArgumentError(absl::StrCat("bad cache key \"", key, "\""));
  const std::string& frag = options.kconfig_fragment_hash;
  if (!frag.empty() &&
      (frag.size() != 8 || frag.find_first_not_of("0123456789abcdef") != std::string::npos)) {
    return absl::InvalidArgumentError(absl::StrCat("bad kconfig fragment hash \"", frag, "\""));
  }
  if (auto existing = Existing(cache, key, options); existing.ok()) return existing;

  StagedKernel files{image, vmlinux, config};
  KernelMetadata m;
  m.version = release;
  m.source = options.source.value_or(KernelSource::kImage);
  m.kconfig_fragment_hash = frag;
  m.source_detail = options.source_detail.empty() ? image : options.source_detail;
  m.image_name = kind == FileKind::kElf ? "vmlinux" : "bzImage";
  if (!config.empty()) {
    absl::StatusOr<std::string> ch = FileCrc32Hex(config);
    if (!ch.ok()) return ch.status();
    m.config_hash = *ch;
  }
  if (kind == FileKind::kElf) {
    files.vmlinux_path.clear();
    return StoreImported(cache, key, files, std::move(m));
  }
  absl::StatusOr<ScopedTempDir> scratch =
      ScopedTempDir::Create(ScratchParent(options), "ktstr-import-");
  if (!scratch.ok()) return scratch.status();
  if (files.vmlinux_path.empty()) {
    std::string extracted = scratch->path() + "/vmlinux";
    if (ExtractVmlinux(image, extracted).ok()) files.vmlinux_path = extracted;
  }
  return StoreImported(cache, key, files, std::move(m));
}

absl::StatusOr<ImportResult> ImportDebianDir(const KernelCache& cache, const std::string& dir,
                                             const ImportOptions& options) {
  absl::StatusOr<DebianKernelFiles> f = LocateDebianKernel(dir);
  if (!f.ok()) return f.status();
  if (SniffFileKind(f->vmlinuz) != FileKind::kBzImage) {
    return absl::InvalidArgumentError(absl::StrCat(f->vmlinuz, " is not a bzImage"));
  }
  std::string release = options.version.empty() ? f->release : options.version;
  absl::StatusOr<std::string> kc = ImportedKc(f->config, f->vmlinuz);
  if (!kc.ok()) return kc.status();
  std::string key = DebianKey(release, HostArch(), *kc);
  if (auto existing = Existing(cache, key, options); existing.ok()) return existing;

  StagedKernel files{f->vmlinuz, f->vmlinux, f->config};
  absl::StatusOr<ScopedTempDir> scratch =
      ScopedTempDir::Create(ScratchParent(options), "ktstr-import-");
  if (!scratch.ok()) return scratch.status();
  if (files.vmlinux_path.empty()) {
    std::string extracted = scratch->path() + "/vmlinux";
    absl::Status s = ExtractVmlinux(f->vmlinuz, extracted);
    if (!s.ok()) return s;
    files.vmlinux_path = extracted;
  }
  KernelMetadata m;
  m.version = release;
  m.source = KernelSource::kDebian;
  m.source_detail = !options.source_detail.empty() ? options.source_detail
                    : f->packages.empty()          ? dir
                                                   : f->packages;
  m.image_name = "bzImage";
  if (!f->config.empty()) m.config_hash = *kc;
  return StoreImported(cache, key, files, std::move(m));
}

absl::StatusOr<ImportResult> ImportDebianPackages(const KernelCache& cache,
                                                  const std::vector<std::string>& debs,
                                                  const ImportOptions& options) {
  if (debs.empty()) return absl::InvalidArgumentError("no packages to import");
  std::vector<std::string> all;
  for (const std::string& deb : debs) {
    if (SniffFileKind(deb) != FileKind::kDebPackage) {
      return absl::InvalidArgumentError(absl::StrCat(deb, " is not a Debian package"));
    }
    for (const std::string& d : CompanionDebs(deb)) {
      if (std::find(all.begin(), all.end(), d) == all.end()) all.push_back(d);
    }
  }
  absl::StatusOr<ScopedTempDir> scratch =
      ScopedTempDir::Create(ScratchParent(options), "ktstr-deb-");
  if (!scratch.ok()) return scratch.status();
  if (absl::Status s = UnpackDebs(all, scratch->path()); !s.ok()) return s;
  ImportOptions o = options;
  o.scratch_parent = scratch->path();
  if (o.source_detail.empty()) {
    for (const std::string& d : all) {
      absl::StrAppend(&o.source_detail, o.source_detail.empty() ? "" : ",",
                      d.substr(d.rfind('/') + 1));
    }
  }
  absl::StatusOr<ImportResult> r = ImportDebianDir(cache, scratch->path(), o);
  return r;
}

absl::StatusOr<ImportResult> ImportPath(const KernelCache& cache, const std::string& path,
                                        const ImportOptions& options) {
  if (IsDirectory(path)) return ImportDebianDir(cache, path, options);
  if (!IsRegularFile(path)) return absl::NotFoundError(absl::StrCat(path, " does not exist"));
  switch (SniffFileKind(path)) {
    case FileKind::kDebPackage:
      return ImportDebianPackages(cache, {path}, options);
    case FileKind::kBzImage:
    case FileKind::kElf:
      return ImportImage(cache, path, "", "", options);
    case FileKind::kUnknown:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(path,
                   " is not a kernel: expected a bzImage, an ELF vmlinux, a Debian package or a "
                   "directory with an unpacked Debian kernel"));
}

absl::StatusOr<ImportResult> ImportSetupDefaultKernel(const KernelCache& cache,
                                                      const std::string& ktstr_cache_dir) {
  const std::string dir = absl::StrCat(ktstr_cache_dir, "/debian/default");
  if (!IsDirectory(dir)) {
    return absl::NotFoundError(absl::StrCat("no default kernel at ", dir, "; run tools/setup"));
  }
  return ImportDebianDir(cache, dir, {});
}

}  // namespace ktstr::kcache
