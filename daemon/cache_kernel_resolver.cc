#include "daemon/cache_kernel_resolver.h"

#include <pwd.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "daemon/fs_util.h"
#include "kernel_cache/cache_key.h"
#include "kernel_cache/cache_layout.h"
#include "kernel_cache/env.h"
#include "kernel_cache/importer.h"
#include "kernel_cache/kernel_cache.h"
#include "spdlog/spdlog.h"

namespace ktstr::daemon {
namespace {

using kcache::CacheEntry;

ktstr::v1::KernelSource ToProto(kcache::KernelSource s) {
  switch (s) {
    case kcache::KernelSource::kTarball: return ktstr::v1::KERNEL_SOURCE_TARBALL;
    case kcache::KernelSource::kLocal: return ktstr::v1::KERNEL_SOURCE_LOCAL;
    case kcache::KernelSource::kDebian: return ktstr::v1::KERNEL_SOURCE_DEBIAN;
    case kcache::KernelSource::kImage: return ktstr::v1::KERNEL_SOURCE_IMAGE;
    case kcache::KernelSource::kGit: return ktstr::v1::KERNEL_SOURCE_GIT;
    case kcache::KernelSource::kDebianSource: return ktstr::v1::KERNEL_SOURCE_DEBIAN_SOURCE;
  }
  return ktstr::v1::KERNEL_SOURCE_UNSPECIFIED;
}

std::optional<kcache::KernelSource> FromProto(ktstr::v1::KernelSource s) {
  switch (s) {
    case ktstr::v1::KERNEL_SOURCE_TARBALL: return kcache::KernelSource::kTarball;
    case ktstr::v1::KERNEL_SOURCE_LOCAL: return kcache::KernelSource::kLocal;
    case ktstr::v1::KERNEL_SOURCE_DEBIAN: return kcache::KernelSource::kDebian;
    case ktstr::v1::KERNEL_SOURCE_IMAGE: return kcache::KernelSource::kImage;
    case ktstr::v1::KERNEL_SOURCE_GIT: return kcache::KernelSource::kGit;
    case ktstr::v1::KERNEL_SOURCE_DEBIAN_SOURCE: return kcache::KernelSource::kDebianSource;
    default: return std::nullopt;
  }
}

ktstr::v1::KernelEntry ToProto(const CacheEntry& e, const std::string& default_key) {
  ktstr::v1::KernelEntry k;
  k.set_cache_key(e.key);
  k.set_size_bytes(e.size_bytes);
  if (!e.valid()) {
    k.set_corrupt(true);
    k.set_corrupt_reason(e.corrupt_reason);
    return k;
  }
  const kcache::KernelMetadata& m = e.metadata;
  k.set_version(m.version);
  k.set_source(ToProto(m.source));
  k.set_arch(m.arch);
  k.set_config_hash(m.config_hash);
  k.set_kconfig_fragment_hash(m.kconfig_fragment_hash);
  k.set_created_unix_s(m.created_unix_s);
  k.set_sched_ext(m.sched_ext);
  k.set_btf(m.btf);
  k.set_has_vmlinux(m.has_vmlinux);
  k.set_stale_fragment(e.stale_fragment);
  k.set_is_default(e.key == default_key);
  return k;
}

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
    for (const CacheEntry& e : cache_->List()) out.push_back(ToProto(e, def));
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
    o.source = FromProto(r.source);
    o.kconfig_fragment_hash = r.kconfig_fragment_hash;
    bool with_parts = !r.vmlinux_path.empty() || !r.config_path.empty() || !r.cache_key.empty();
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
    return ToProto(res->entry, DefaultKey());
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

// The real environment, except that an unset HOME comes from the password database: a
// daemon started by systemd or a test runner without HOME still finds its user's cache.
class DaemonEnv : public kcache::Env {
 public:
  std::optional<std::string> GetEnv(const std::string& name) const override {
    std::optional<std::string> v = kcache::RealEnv().GetEnv(name);
    if (name != "HOME" || (v && !v->empty())) return v;
    struct passwd* pw = getpwuid(getuid());
    if (pw == nullptr || pw->pw_dir == nullptr || pw->pw_dir[0] != '/') return v;
    return std::string(pw->pw_dir);
  }
  std::string Cwd() const override { return kcache::RealEnv().Cwd(); }
  std::string KernelRelease() const override { return kcache::RealEnv().KernelRelease(); }
  bool IsFile(const std::string& path) const override { return kcache::RealEnv().IsFile(path); }
  bool IsDir(const std::string& path) const override { return kcache::RealEnv().IsDir(path); }
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
  return kcache::DefaultKernelCacheRoot(DaemonEnv());
}

absl::Status ImportSetupKernel(const std::string& cache_root) {
  absl::StatusOr<std::unique_ptr<kcache::KernelCache>> cache =
      kcache::KernelCache::Open(cache_root);
  if (!cache.ok()) return cache.status();
  absl::StatusOr<std::string> ktstr_cache = kcache::KtstrCacheDir(DaemonEnv());
  if (!ktstr_cache.ok()) return ktstr_cache.status();
  absl::StatusOr<kcache::ImportResult> r =
      kcache::ImportSetupDefaultKernel(**cache, *ktstr_cache);
  if (!r.ok()) return r.status();
  spdlog::info("setup kernel {} {}", r->entry.key,
               r->already_cached ? "is cached" : "imported into the kernel cache");
  return absl::OkStatus();
}

}  // namespace ktstr::daemon
