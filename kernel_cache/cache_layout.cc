#include "kernel_cache/cache_layout.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ktstr::kcache {
namespace {

std::optional<std::string> NonEmpty(const Env& env, const char* name) {
  auto v = env.GetEnv(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

}  // namespace

absl::StatusOr<std::string> KtstrCacheDir(const Env& env) {
  if (auto dir = NonEmpty(env, "KTSTR_CACHE_DIR")) return *dir;
  if (auto xdg = NonEmpty(env, "XDG_CACHE_HOME")) return absl::StrCat(*xdg, "/ktstr");
  if (auto home = NonEmpty(env, "HOME")) return absl::StrCat(*home, "/.cache/ktstr");
  return absl::FailedPreconditionError(
      "cannot place the kernel cache: KTSTR_CACHE_DIR, XDG_CACHE_HOME and HOME are all unset "
      "or empty; set KTSTR_CACHE_DIR");
}

absl::StatusOr<std::string> DefaultKernelCacheRoot(const Env& env) {
  absl::StatusOr<std::string> dir = KtstrCacheDir(env);
  if (!dir.ok()) return dir.status();
  return absl::StrCat(*dir, "/kernels");
}

std::string CacheLayout::EntryDir(absl::string_view key) const {
  return absl::StrCat(root_, "/", key);
}

std::string CacheLayout::MetadataPath(absl::string_view key) const {
  return FileInEntry(key, kMetadataName);
}

std::string CacheLayout::FileInEntry(absl::string_view key, absl::string_view name) const {
  return absl::StrCat(root_, "/", key, "/", name);
}

std::string CacheLayout::TempDir(absl::string_view key, long pid) const {
  return absl::StrCat(root_, "/", kTempPrefix, key, "-", pid);
}

std::string CacheLayout::LocksDir() const { return absl::StrCat(root_, "/.locks"); }

std::string CacheLayout::LockPath(absl::string_view key) const {
  return absl::StrCat(root_, "/.locks/", key, ".lock");
}

}  // namespace ktstr::kcache
