#include "daemon/cache_kernel_resolver.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "daemon/fs_util.h"
#include "daemon/kernel_entry_proto.h"
#include "kernel_cache/cache_key.h"
#include "kernel_cache/cache_layout.h"
#include "kernel_cache/env.h"
#include "kernel_cache/importer.h"
#include "kernel_cache/kernel_cache.h"
#include "spdlog/spdlog.h"

namespace ktstr::daemon {
namespace {

using kcache::CacheEntry;

class CacheKernelResolver : public KernelResolver {
 public:
  CacheKernelResolver(std::unique_ptr<kcache::KernelCache> cache, std::string default_marker)
      : cache_(std::move(cache)), default_marker_(std::move(default_marker)) {
    if (auto k = ReadFileToString(default_marker_); k.ok()) {
      marked_default_ = std::string(absl::StripAsciiWhitespace(*k));
    }
  }

  absl::StatusOr<ResolvedKernel> Resolve(const ktstr::v1::KernelRef& ref) override {
    absl::StatusOr<CacheEntry> e;
    switch (ref.ref_case()) {
      case ktstr::v1::KernelRef::kCacheKey:
        e = cache_->Get(ref.cache_key());
        break;
      case ktstr::v1::KernelRef::kVersion:
        // Lookup classifies the string: a full key (they start with a version too) or a
        // version prefix. Clients cannot always tell the two apart.
        e = cache_->Lookup(ref.version());
        break;
      default:
        e = DefaultEntry();
        break;
    }
    if (absl::IsNotFound(e.status())) return NotCached(ref);
    if (!e.ok()) return e.status();
    absl::StatusOr<kcache::FileLock> lock = cache_->Pin(e->key);
    if (!lock.ok()) return lock.status();
    auto pin = std::make_shared<const kcache::FileLock>(std::move(*lock));
    // A RemoveKernel may have won the race for the lock: the entry must still be there.
    absl::StatusOr<CacheEntry> still = cache_->Get(e->key);
    if (absl::IsNotFound(still.status())) return NotCached(ref);
    if (!still.ok()) return still.status();
    return ResolvedKernel{.key = still->key,
                          .image_path = still->boot_path(),
                          .config_path = still->config_path(),
                          .release = still->metadata.version,
                          .pin = std::move(pin)};
  }

  std::vector<ktstr::v1::KernelEntry> List() override {
    std::string def = DefaultKey();
    std::vector<ktstr::v1::KernelEntry> out;
    for (const CacheEntry& e : cache_->List()) out.push_back(KernelEntryToProto(e, def));
    return out;
  }

  std::string DefaultKey() override {
    absl::StatusOr<CacheEntry> e = DefaultEntry();
    return e.ok() ? e->key : "";
  }

  absl::StatusOr<ktstr::v1::KernelEntry> Import(const KernelImport& r) override {
    if (!r.cache_key.empty() && !kcache::IsValidKey(r.cache_key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", r.cache_key, "\" is not a plain cache key"));
    }
    kcache::ImportOptions o;
    o.version = r.version;
    o.key = r.cache_key;
    o.source = KernelSourceFromProto(r.source);
    o.kconfig_fragment_hash = r.kconfig_fragment_hash;
    bool with_parts = !r.vmlinux_path.empty() || !r.config_path.empty() || !r.cache_key.empty();
    if (r.replace && !r.cache_key.empty()) {
      // Straight on the cache, not Remove(): the default marker keeps naming this key.
      // Between the two steps a job asking for the key gets NOT_FOUND, never the old files.
      absl::Status s = cache_->Remove(r.cache_key);
      if (absl::IsUnavailable(s)) {
        return absl::FailedPreconditionError(
            absl::StrCat(s.message(), "; replace it when its jobs have finished"));
      }
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
    absl::StatusOr<kcache::ImportResult> res =
        with_parts ? kcache::ImportImage(*cache_, r.path, r.vmlinux_path, r.config_path, o)
                   : kcache::ImportPath(*cache_, r.path, o);
    if (!res.ok()) return res.status();
    spdlog::info("kernel {} {}", res->entry.key,
                 res->already_cached ? "was already cached" : "imported");
    if (r.make_default) {
      if (absl::Status s = WriteFileAtomically(default_marker_, res->entry.key + "\n"); !s.ok()) {
        return s;
      }
      absl::MutexLock lock(&mu_);
      marked_default_ = res->entry.key;
    }
    return KernelEntryToProto(res->entry, DefaultKey());
  }

  absl::Status Remove(const std::string& key) override {
    absl::Status s = cache_->Remove(key);
    if (absl::IsUnavailable(s)) {
      return absl::FailedPreconditionError(
          absl::StrCat(s.message(), "; remove it when its jobs have finished"));
    }
    if (s.ok()) {
      absl::MutexLock lock(&mu_);
      if (marked_default_ == key) {
        marked_default_.clear();
        RemoveTree(default_marker_);
      }
    }
    return s;
  }

  absl::StatusOr<std::vector<std::string>> Clean(uint32_t keep, bool corrupt_only) override {
    kcache::CleanOptions o;
    o.keep = keep;
    o.corrupt_only = corrupt_only;
    if (std::string def = DefaultKey(); !def.empty()) o.protect.insert(def);
    absl::StatusOr<kcache::CleanResult> r = cache_->Clean(o);
    if (!r.ok()) return r.status();
    if (!r->in_use.empty()) {
      spdlog::info("kernel clean kept {} in use: {}", r->in_use.size(),
                   absl::StrJoin(r->in_use, ", "));
    }
    return r->removed;
  }

 private:
  absl::StatusOr<CacheEntry> DefaultEntry() {
    std::string marked;
    {
      absl::MutexLock lock(&mu_);
      marked = marked_default_;
    }
    if (!marked.empty()) {
      if (absl::StatusOr<CacheEntry> e = cache_->Get(marked); e.ok()) return e;
    }
    return cache_->Newest();
  }

  absl::Status NotCached(const ktstr::v1::KernelRef& ref) {
    std::vector<std::string> have;
    for (const CacheEntry& e : cache_->List()) {
      if (e.valid()) have.push_back(absl::StrCat(e.key, " (", e.metadata.version, ")"));
    }
    std::string what;
    switch (ref.ref_case()) {
      case ktstr::v1::KernelRef::kCacheKey:
        what = absl::StrCat("kernel '", ref.cache_key(), "' is not cached");
        break;
      case ktstr::v1::KernelRef::kVersion:
        what = absl::StrCat("no cached kernel matches '", ref.version(), "'");
        break;
      default:
        what = "no valid kernel is cached";
        break;
    }
    std::string cached = have.empty()
                             ? absl::StrCat("the cache ", cache_->layout().root(),
                                            " holds no valid kernel; run tools/setup or "
                                            "`ktstr-client kernel import PATH`")
                             : absl::StrCat("cached: ", absl::StrJoin(have, ", "));
    return absl::NotFoundError(absl::StrCat(what, "; ", cached));
  }

  const std::unique_ptr<kcache::KernelCache> cache_;
  const std::string default_marker_;
  absl::Mutex mu_;
  std::string marked_default_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<KernelResolver>> NewCacheKernelResolver(
    std::string cache_root, std::string default_marker) {
  absl::StatusOr<std::unique_ptr<kcache::KernelCache>> cache =
      kcache::KernelCache::Open(std::move(cache_root));
  if (!cache.ok()) return cache.status();
  return std::unique_ptr<KernelResolver>(
      new CacheKernelResolver(std::move(*cache), std::move(default_marker)));
}

absl::StatusOr<std::string> DaemonKernelCacheRoot(const std::string& flag_value,
                                                  bool system_mode,
                                                  const std::string& state_dir) {
  if (!flag_value.empty()) return flag_value;
  if (system_mode) return state_dir + "/kernels";
  return kcache::DefaultKernelCacheRoot(kcache::RealEnv());
}

absl::Status ImportSetupKernel(const std::string& cache_root) {
  absl::StatusOr<std::unique_ptr<kcache::KernelCache>> cache =
      kcache::KernelCache::Open(cache_root);
  if (!cache.ok()) return cache.status();
  absl::StatusOr<std::string> ktstr_cache = kcache::KtstrCacheDir(kcache::RealEnv());
  if (!ktstr_cache.ok()) return ktstr_cache.status();
  absl::StatusOr<kcache::ImportResult> r =
      kcache::ImportSetupDefaultKernel(**cache, *ktstr_cache);
  if (!r.ok()) return r.status();
  spdlog::info("setup kernel {} {}", r->entry.key,
               r->already_cached ? "is cached" : "imported into the kernel cache");
  return absl::OkStatus();
}

}  // namespace ktstr::daemon
