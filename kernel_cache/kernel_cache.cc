#include "kernel_cache/kernel_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "kernel_cache/cache_key.h"
#include "kernel_cache/fs_util.h"
#include "kernel_cache/kconfig.h"
#include "kernel_cache/kernel_image.h"
#include "spdlog/spdlog.h"

namespace ktstr::kcache {
namespace {

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool NewerFirst(const CacheEntry& a, const CacheEntry& b) {
  if (a.metadata.created_unix_s != b.metadata.created_unix_s) {
    return a.metadata.created_unix_s > b.metadata.created_unix_s;
  }
  return a.key < b.key;
}

}  // namespace

absl::string_view CorruptKindName(CorruptKind kind) {
  switch (kind) {
    case CorruptKind::kNone:
      return "none";
    case CorruptKind::kMetadataMissing:
      return "metadata_missing";
    case CorruptKind::kMetadataUnreadable:
      return "metadata_unreadable";
    case CorruptKind::kMetadataMalformed:
      return "metadata_malformed";
    case CorruptKind::kImageMissing:
      return "image_missing";
    case CorruptKind::kVmlinuxMissing:
      return "vmlinux_missing";
    case CorruptKind::kConfigMissing:
      return "config_missing";
  }
  return "unknown";
}

std::string CacheEntry::image_path() const { return absl::StrCat(dir, "/", metadata.image_name); }

std::string CacheEntry::vmlinux_path() const {
  if (!metadata.has_vmlinux) return "";
  return absl::StrCat(dir, "/", CacheLayout::kVmlinuxName);
}

std::string CacheEntry::config_path() const {
  if (!metadata.has_config) return "";
  return absl::StrCat(dir, "/", CacheLayout::kConfigName);
}

std::string CacheEntry::boot_path() const {
  return metadata.has_vmlinux ? vmlinux_path() : image_path();
}

absl::StatusOr<std::unique_ptr<KernelCache>> KernelCache::Open(std::string root) {
  return Open(std::move(root), KtstrKconfigHash());
}

absl::StatusOr<std::unique_ptr<KernelCache>> KernelCache::Open(std::string root,
                                                               std::string fragment_hash) {
  if (root.empty()) return absl::InvalidArgumentError("empty kernel cache root");
  std::unique_ptr<KernelCache> cache(new KernelCache(std::move(root), std::move(fragment_hash)));
  return cache;
}

absl::Status KernelCache::PrepareForWrite() const {
  if (absl::Status s = MakeDirs(layout_.LocksDir()); !s.ok()) return s;
  SweepOrphans();
  return absl::OkStatus();
}

void KernelCache::SweepOrphans() const {
  // .tmp-<key>-<pid>: remove when <pid> is gone (a writer that crashed mid-store).
  for (const std::string& name : ListDir(layout_.root())) {
    if (!absl::StartsWith(name, CacheLayout::kTempPrefix)) continue;
    size_t dash = name.rfind('-');
    long pid = 0;
    if (dash == std::string::npos || !absl::SimpleAtoi(name.substr(dash + 1), &pid)) continue;
    if (pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) continue;
    spdlog::info("kernel cache: removing orphaned temporary directory {}", name);
    (void)RemoveTree(absl::StrCat(layout_.root(), "/", name));
  }
}

CacheEntry KernelCache::LoadEntry(const std::string& key) const {
  CacheEntry e;
  e.key = key;
  e.dir = layout_.EntryDir(key);
  e.size_bytes = TreeSizeBytes(e.dir);
  std::string meta_path = layout_.MetadataPath(key);
  if (!PathExists(meta_path)) {
    e.corrupt = CorruptKind::kMetadataMissing;
    e.corrupt_reason = "metadata.json is missing";
    return e;
  }
  absl::StatusOr<std::string> text = ReadFileToString(meta_path);
  if (!text.ok()) {
    e.corrupt = CorruptKind::kMetadataUnreadable;
    e.corrupt_reason = std::string(text.status().message());
    return e;
  }
  absl::StatusOr<KernelMetadata> m = MetadataFromJson(*text);
  if (!m.ok()) {
    e.corrupt = CorruptKind::kMetadataMalformed;
    e.corrupt_reason = absl::StrCat("metadata.json: ", m.status().message());
    return e;
  }
  e.metadata = *std::move(m);
  if (!IsRegularFile(e.image_path())) {
    e.corrupt = CorruptKind::kImageMissing;
    e.corrupt_reason = absl::StrCat("image ", e.metadata.image_name, " is missing");
  } else if (e.metadata.has_vmlinux && !IsRegularFile(e.vmlinux_path())) {
    e.corrupt = CorruptKind::kVmlinuxMissing;
    e.corrupt_reason = "vmlinux is missing";
  } else if (e.metadata.has_config && !IsRegularFile(e.config_path())) {
    e.corrupt = CorruptKind::kConfigMissing;
    e.corrupt_reason = "config is missing";
  }
  e.stale_fragment = !e.metadata.kconfig_fragment_hash.empty() &&
                     e.metadata.kconfig_fragment_hash != fragment_hash_;
  return e;
}

std::vector<CacheEntry> KernelCache::List() const {
  std::vector<CacheEntry> valid, corrupt;
  for (const std::string& name : ListDir(layout_.root())) {
    if (!IsValidKey(name) || !IsDirectory(layout_.EntryDir(name))) continue;
    CacheEntry e = LoadEntry(name);
    (e.valid() ? valid : corrupt).push_back(std::move(e));
  }
  std::sort(valid.begin(), valid.end(), NewerFirst);
  for (CacheEntry& e : corrupt) valid.push_back(std::move(e));
  return valid;
}

absl::StatusOr<CacheEntry> KernelCache::Get(const std::string& key) const {
  if (!IsValidKey(key))
    return absl::InvalidArgumentError(absl::StrCat("\"", key, "\" is not a cache key"));
  if (!IsDirectory(layout_.EntryDir(key))) {
    return absl::NotFoundError(absl::StrCat("no kernel with key ", key, " in ", layout_.root()));
  }
  CacheEntry e = LoadEntry(key);
  if (!e.valid()) {
    return absl::DataLossError(absl::StrCat("cache entry ", key, " is corrupt (",
                                            CorruptKindName(e.corrupt), ": ", e.corrupt_reason,
                                            "); remove it with `clean --corrupt-only`"));
  }
  return e;
}

absl::StatusOr<CacheEntry> KernelCache::FindVersion(const std::string& version) const {
  for (CacheEntry& e : List()) {
    if (e.valid() && VersionMatches(e.metadata.version, version)) return std::move(e);
  }
  return absl::NotFoundError(
      absl::StrCat("no cached kernel of version ", version, " in ", layout_.root()));
}

absl::StatusOr<CacheEntry> KernelCache::Lookup(const std::string& key_or_version) const {
  if (ClassifyKernelSpec(key_or_version) == KernelSpecKind::kVersion)
    return FindVersion(key_or_version);
  return Get(key_or_version);
}

absl::StatusOr<CacheEntry> KernelCache::Newest() const {
  for (CacheEntry& e : List()) {
    if (e.valid() && !e.stale_fragment) return std::move(e);
  }
  return absl::NotFoundError(absl::StrCat("no usable kernel in ", layout_.root()));
}

absl::Status KernelCache::FillEntryDir(const std::string& dir, const StagedKernel& files,
                                       KernelMetadata& m) const {
  if (m.image_name.empty()) m.image_name = "bzImage";
  if (m.image_name == CacheLayout::kMetadataName || m.image_name == CacheLayout::kConfigName) {
    return absl::InvalidArgumentError(absl::StrCat("bad image name ", m.image_name));
  }
  std::string image_dst = absl::StrCat(dir, "/", m.image_name);
  bool image_is_vmlinux = m.image_name == CacheLayout::kVmlinuxName;
  m.has_vmlinux = false;
  m.vmlinux_stripped = false;
  m.btf = false;
  std::string vmlinux_src = image_is_vmlinux ? files.image_path : files.vmlinux_path;
  if (!image_is_vmlinux) {
    if (absl::Status s = CopyFile(files.image_path, image_dst); !s.ok()) return s;
  }
  if (!vmlinux_src.empty()) {
    std::string dst = absl::StrCat(dir, "/", CacheLayout::kVmlinuxName);
    absl::StatusOr<bool> stripped = CopyStrippedVmlinux(vmlinux_src, dst);
    if (!stripped.ok()) return stripped.status();
    absl::StatusOr<std::vector<ElfSection>> sections = ReadElfSections(dst);
    if (!sections.ok()) return sections.status();
    m.has_vmlinux = true;
    m.vmlinux_stripped = *stripped;
    m.btf = HasSection(*sections, ".BTF");
  }
  m.has_config = !files.config_path.empty();
  if (m.has_config) {
    std::string dst = absl::StrCat(dir, "/", CacheLayout::kConfigName);
    if (absl::Status s = CopyFile(files.config_path, dst); !s.ok()) return s;
  }
  return WriteStringToFile(absl::StrCat(dir, "/", CacheLayout::kMetadataName), MetadataToJson(m));
}

absl::StatusOr<CacheEntry> KernelCache::Store(const std::string& key, const StagedKernel& files,
                                              KernelMetadata metadata) const {
  if (!IsValidKey(key))
    return absl::InvalidArgumentError(absl::StrCat("\"", key, "\" is not a cache key"));
  if (files.image_path.empty()) return absl::InvalidArgumentError("no kernel image to store");
  if (absl::Status s = PrepareForWrite(); !s.ok()) return s;
  absl::StatusOr<FileLock> lock =
      FileLock::Acquire(layout_.LockPath(key), FileLock::Mode::kExclusive);
  if (!lock.ok()) return lock.status();
  std::string tmp = layout_.TempDir(key, getpid());
  (void)RemoveTree(tmp);
  if (absl::Status s = MakeDirs(tmp); !s.ok()) return s;
  if (absl::Status s = FillEntryDir(tmp, files, metadata); !s.ok()) {
    (void)RemoveTree(tmp);
    return s;
  }
  std::string dir = layout_.EntryDir(key);
  // RENAME_EXCHANGE swaps an existing entry in one step: readers see old or new, never none.
  int rc = renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(),
                     IsDirectory(dir) ? RENAME_EXCHANGE : RENAME_NOREPLACE);
  if (rc != 0) {
    std::string err = std::strerror(errno);
    (void)RemoveTree(tmp);
    return absl::InternalError(absl::StrCat("cannot move ", tmp, " to ", dir, ": ", err));
  }
  (void)RemoveTree(tmp);  // the old entry after an exchange; nothing otherwise
  CacheEntry e = LoadEntry(key);
  if (!e.valid())
    return absl::InternalError(
        absl::StrCat("stored entry ", key, " reads back corrupt: ", e.corrupt_reason));
  spdlog::info("kernel cache: stored {} ({})", key, e.metadata.DebugString());
  return e;
}

absl::Status KernelCache::Remove(const std::string& key) const {
  if (!IsValidKey(key))
    return absl::InvalidArgumentError(absl::StrCat("\"", key, "\" is not a cache key"));
  std::string dir = layout_.EntryDir(key);
  if (!IsDirectory(dir)) return absl::NotFoundError(absl::StrCat("no kernel with key ", key));
  if (absl::Status s = MakeDirs(layout_.LocksDir()); !s.ok()) return s;
  absl::StatusOr<FileLock> lock =
      FileLock::TryAcquire(layout_.LockPath(key), FileLock::Mode::kExclusive);
  if (absl::IsUnavailable(lock.status())) {
    return absl::UnavailableError(absl::StrCat("kernel ", key, " is in use by a running VM"));
  }
  if (!lock.ok()) return lock.status();
  // Rename first so a half-removed entry is never visible under its key.
  std::string doomed = layout_.TempDir(absl::StrCat("rm-", key), getpid());
  if (rename(dir.c_str(), doomed.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot remove ", dir, ": ", std::strerror(errno)));
  }
  return RemoveTree(doomed);
}

absl::StatusOr<CleanResult> KernelCache::Clean(const CleanOptions& options) const {
  CleanResult result;
  size_t kept_valid = 0;
  for (const CacheEntry& e : List()) {
    bool remove;
    if (!e.valid()) {
      remove = true;
    } else if (options.corrupt_only) {
      remove = false;
    } else if (options.keep && kept_valid < *options.keep) {
      remove = false;
      ++kept_valid;
    } else {
      remove = true;
    }
    if (!remove || options.protect.contains(e.key)) continue;
    absl::Status s = Remove(e.key);
    if (s.ok()) {
      result.removed.push_back(e.key);
    } else if (absl::IsUnavailable(s)) {
      result.in_use.push_back(e.key);
    } else {
      return s;
    }
  }
  return result;
}

absl::StatusOr<FileLock> KernelCache::Pin(const std::string& key) const {
  if (!IsValidKey(key))
    return absl::InvalidArgumentError(absl::StrCat("\"", key, "\" is not a cache key"));
  if (absl::Status s = MakeDirs(layout_.LocksDir()); !s.ok()) return s;
  return FileLock::Acquire(layout_.LockPath(key), FileLock::Mode::kShared);
}

}  // namespace ktstr::kcache
