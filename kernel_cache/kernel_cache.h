// The kernel cache: one directory per key (cache_layout.h) holding a boot image, optionally
// a DWARF-stripped vmlinux and the .config, and metadata.json. Entries are written to a
// temporary directory and renamed into place under an exclusive flock; readers that boot a
// kernel hold a shared flock (Pin) so a concurrent rebuild or clean cannot swap it away.
// Corrupt entries (metadata missing/malformed, files missing) are listed as such and never
// returned by lookups.
//
// Thread safety: a KernelCache is immutable after Open; every method may be called from
// any thread. Cross-process safety comes from the flocks.
#ifndef KTSTR_KERNEL_CACHE_KERNEL_CACHE_H_
#define KTSTR_KERNEL_CACHE_KERNEL_CACHE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kernel_cache/cache_layout.h"
#include "kernel_cache/file_lock.h"
#include "kernel_cache/metadata.h"

namespace ktstr::kcache {

// Why an entry is unusable (closed set; mirrors ktstr's error kinds).
enum class CorruptKind {
  kNone,
  kMetadataMissing,     // no metadata.json
  kMetadataUnreadable,  // I/O error
  kMetadataMalformed,   // not our JSON, missing/mistyped field, other schema version
  kImageMissing,        // the boot image named in the metadata is not there
  kVmlinuxMissing,      // metadata says has_vmlinux but the file is gone
  kConfigMissing,       // metadata says has_config but the file is gone
};
absl::string_view CorruptKindName(CorruptKind kind);

struct CacheEntry {
  std::string key;
  std::string dir;
  KernelMetadata metadata;  // meaningful only when valid()
  CorruptKind corrupt = CorruptKind::kNone;
  std::string corrupt_reason;
  bool stale_fragment = false;  // built with a different ktstr.kconfig than the current one
  uint64_t size_bytes = 0;

  bool valid() const { return corrupt == CorruptKind::kNone; }
  std::string image_path() const;    // the boot image (bzImage)
  std::string vmlinux_path() const;  // "" when no vmlinux is cached
  std::string config_path() const;   // "" when no config is cached
  // What the VMM boots: the ELF vmlinux (PVH) when present, else the image.
  std::string boot_path() const;
};

// Files to place in a new entry. Only `image_path` is required; it may itself be an ELF
// vmlinux (then metadata.image_name should be "vmlinux" and vmlinux_path left empty).
struct StagedKernel {
  std::string image_path;
  std::string vmlinux_path;
  std::string config_path;
};

struct CleanOptions {
  // Keep the newest N valid entries; nullopt = remove every valid entry.
  std::optional<size_t> keep;
  bool corrupt_only = false;                 // remove only corrupt entries
  absl::flat_hash_set<std::string> protect;  // keys never removed (e.g. the daemon's default)
};

struct CleanResult {
  std::vector<std::string> removed;
  std::vector<std::string> in_use;  // skipped: a VM holds them (Pin)
};

class KernelCache {
 public:
  // Reads nothing and creates nothing (discovery must not write): `root` may not exist
  // yet; the first Store creates it and removes temporary directories of dead writers.
  // `fragment_hash` is the current ktstr.kconfig CRC (entries built with another are stale).
  static absl::StatusOr<std::unique_ptr<KernelCache>> Open(std::string root,
                                                           std::string fragment_hash);
  // Open with the embedded fragment's hash.
  static absl::StatusOr<std::unique_ptr<KernelCache>> Open(std::string root);

  const CacheLayout& layout() const { return layout_; }
  const std::string& fragment_hash() const { return fragment_hash_; }

  // Every entry: valid ones newest first (created_unix_s, then key), then corrupt ones by key.
  std::vector<CacheEntry> List() const;
  // Exact key. NotFound when absent, DataLoss (with the reason) when corrupt.
  absl::StatusOr<CacheEntry> Get(const std::string& key) const;
  // Newest valid entry whose version matches `version` (VersionMatches). NotFound otherwise.
  absl::StatusOr<CacheEntry> FindVersion(const std::string& version) const;
  // A cache key (exact) or a version/prefix ("6.14.2", "7.3"), classified as discovery's
  // KTSTR_KERNEL is (ClassifyKernelSpec). What ktstr.v1.KernelRef resolves through.
  absl::StatusOr<CacheEntry> Lookup(const std::string& key_or_version) const;
  // Newest valid entry not built with a different fragment. NotFound when there is none.
  absl::StatusOr<CacheEntry> Newest() const;

  // Writes a new entry atomically, replacing an existing one with the same key (waits for
  // its pins to be released). Fills image_name (when empty), has_vmlinux, vmlinux_stripped,
  // btf and has_config in `metadata` from the files.
  absl::StatusOr<CacheEntry> Store(const std::string& key, const StagedKernel& files,
                                   KernelMetadata metadata) const;
  // NotFound when absent; Unavailable when pinned.
  absl::Status Remove(const std::string& key) const;
  absl::StatusOr<CleanResult> Clean(const CleanOptions& options) const;
  // A shared lock on the entry for as long as a VM uses it.
  absl::StatusOr<FileLock> Pin(const std::string& key) const;

 private:
  KernelCache(std::string root, std::string fragment_hash)
      : layout_(std::move(root)), fragment_hash_(std::move(fragment_hash)) {}
  CacheEntry LoadEntry(const std::string& key) const;
  absl::Status FillEntryDir(const std::string& dir, const StagedKernel& files,
                            KernelMetadata& metadata) const;
  absl::Status PrepareForWrite() const;  // creates root/.locks, sweeps orphans
  void SweepOrphans() const;

  CacheLayout layout_;
  std::string fragment_hash_;
};

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_KERNEL_CACHE_H_
