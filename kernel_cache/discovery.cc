#include "kernel_cache/discovery.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kernel_cache/cache_key.h"

namespace ktstr::kcache {
namespace {

std::string JoinPath(absl::string_view a, absl::string_view b) {
  if (a.empty()) return std::string(b);
  if (absl::EndsWith(a, "/")) return absl::StrCat(a, b);
  return absl::StrCat(a, "/", b);
}

// Relative paths are resolved against the Env's cwd, so tests never depend on the process's.
std::string Absolute(const Env& env, absl::string_view path) {
  if (absl::StartsWith(path, "/")) return std::string(path);
  if (absl::StartsWith(path, "~/")) {
    auto home = env.GetEnv("HOME");
    if (home && !home->empty()) return JoinPath(*home, path.substr(2));
  }
  return JoinPath(env.Cwd(), path);
}

class Search {
 public:
  explicit Search(const Env& env) : env_(env) {}

  // Records `path` as tried; fills `out` when it is a file.
  bool TryFile(DiscoveryStep step, const std::string& path) {
    out_.tried.push_back(absl::StrCat(DiscoveryStepName(step), ": ", path));
    if (!env_.IsFile(path)) return false;
    out_.step = step;
    out_.image_path = path;
    return true;
  }
  // A source tree: its image, plus vmlinux and .config next to it when present.
  bool TryTree(DiscoveryStep step, const std::string& tree) {
    if (!TryFile(step, JoinPath(tree, ImageRelPathForArch(HostArch())))) return false;
    if (env_.IsFile(JoinPath(tree, "vmlinux"))) out_.vmlinux_path = JoinPath(tree, "vmlinux");
    if (env_.IsFile(JoinPath(tree, ".config"))) out_.config_path = JoinPath(tree, ".config");
    return true;
  }
  void Note(DiscoveryStep step, absl::string_view what) {
    out_.tried.push_back(absl::StrCat(DiscoveryStepName(step), ": ", what));
  }
  void UseEntry(DiscoveryStep step, const CacheEntry& e) {
    out_.step = step;
    out_.cache_key = e.key;
    out_.image_path = e.image_path();
    out_.vmlinux_path = e.vmlinux_path();
    out_.config_path = e.config_path();
  }
  DiscoveredKernel Take() { return std::move(out_); }
  std::string TriedList() const { return absl::StrJoin(out_.tried, "\n  "); }

 private:
  const Env& env_;
  DiscoveredKernel out_;
};

enum class StepResult { kFound, kNext, kSkipCache };

// Step 2. Errors only for a path that is not a kernel.
absl::StatusOr<StepResult> KernelEnvStep(const Env& env, const KernelCache* cache,
                                         const std::string& spec, Search& search) {
  constexpr DiscoveryStep kStep = DiscoveryStep::kKernelEnv;
  switch (ClassifyKernelSpec(spec)) {
    case KernelSpecKind::kPath: {
      std::string path = Absolute(env, spec);
      if (env.IsDir(path)) {
        if (search.TryTree(kStep, path)) return StepResult::kFound;
        return absl::InvalidArgumentError(absl::StrCat(
            "KTSTR_KERNEL=", spec, " is a directory without ", ImageRelPathForArch(HostArch()),
            " (build the tree first, e.g. `ktstr-kernel build --source ", spec, "`)"));
      }
      if (search.TryFile(kStep, path)) return StepResult::kFound;
      return absl::InvalidArgumentError(
          absl::StrCat("KTSTR_KERNEL=", spec, ": no such file or directory"));
    }
    case KernelSpecKind::kVersion: {
      if (cache != nullptr) {
        if (auto e = cache->FindVersion(spec); e.ok()) {
          search.Note(kStep, absl::StrCat("version ", spec, " in cache ", cache->layout().root()));
          search.UseEntry(kStep, *e);
          return StepResult::kFound;
        }
      }
      search.Note(kStep, absl::StrCat("version ", spec, " is not cached (cache scan skipped)"));
      return StepResult::kSkipCache;
    }
    case KernelSpecKind::kCacheKey: {
      if (cache != nullptr) {
        absl::StatusOr<CacheEntry> e = cache->Get(spec);
        if (e.ok()) {
          search.Note(kStep, absl::StrCat("cache key ", spec));
          search.UseEntry(kStep, *e);
          return StepResult::kFound;
        }
        search.Note(kStep, absl::StrCat("cache key ", spec, ": ", e.status().message(),
                                        " (cache scan skipped)"));
      } else {
        search.Note(kStep, absl::StrCat("cache key ", spec, ": no cache (cache scan skipped)"));
      }
      return StepResult::kSkipCache;
    }
  }
  return StepResult::kNext;
}

}  // namespace

absl::string_view DiscoveryStepName(DiscoveryStep step) {
  switch (step) {
    case DiscoveryStep::kTestKernelEnv:
      return "KTSTR_TEST_KERNEL";
    case DiscoveryStep::kKernelEnv:
      return "KTSTR_KERNEL";
    case DiscoveryStep::kCache:
      return "cache";
    case DiscoveryStep::kCwdLinux:
      return "./linux";
    case DiscoveryStep::kParentLinux:
      return "../linux";
    case DiscoveryStep::kModulesBuild:
      return "modules build tree";
    case DiscoveryStep::kModulesVmlinuz:
      return "modules vmlinuz";
    case DiscoveryStep::kBootRelease:
      return "/boot release";
    case DiscoveryStep::kBootVmlinuz:
      return "/boot";
  }
  return "unknown";
}

absl::StatusOr<DiscoveredKernel> DiscoverKernel(const Env& env, const KernelCache* cache) {
  Search search(env);
  // 1.
  if (auto direct = env.GetEnv("KTSTR_TEST_KERNEL"); direct && !direct->empty()) {
    if (search.TryFile(DiscoveryStep::kTestKernelEnv, Absolute(env, *direct))) return search.Take();
    return absl::InvalidArgumentError(
        absl::StrCat("KTSTR_TEST_KERNEL=", *direct, " is not a readable file"));
  }
  // 2.
  bool skip_cache = false;
  if (auto spec = env.GetEnv("KTSTR_KERNEL"); spec && !spec->empty()) {
    absl::StatusOr<StepResult> r = KernelEnvStep(env, cache, *spec, search);
    if (!r.ok()) return r.status();
    if (*r == StepResult::kFound) return search.Take();
    skip_cache = *r == StepResult::kSkipCache;
  }
  // 3.
  if (!skip_cache) {
    if (cache == nullptr) {
      search.Note(DiscoveryStep::kCache, "no kernel cache directory");
    } else if (auto e = cache->Newest(); e.ok()) {
      search.Note(DiscoveryStep::kCache, cache->layout().root());
      search.UseEntry(DiscoveryStep::kCache, *e);
      return search.Take();
    } else {
      search.Note(DiscoveryStep::kCache,
                  absl::StrCat(cache->layout().root(), " (no usable entry)"));
    }
  }
  // 4.-9.
  const std::string cwd = env.Cwd();
  if (search.TryTree(DiscoveryStep::kCwdLinux, JoinPath(cwd, "linux"))) return search.Take();
  if (search.TryTree(DiscoveryStep::kParentLinux, JoinPath(cwd, "../linux"))) return search.Take();
  const std::string release = env.KernelRelease();
  const std::string modules = absl::StrCat("/lib/modules/", release);
  if (search.TryTree(DiscoveryStep::kModulesBuild, JoinPath(modules, "build")))
    return search.Take();
  if (search.TryFile(DiscoveryStep::kModulesVmlinuz, JoinPath(modules, "vmlinuz")))
    return search.Take();
  if (search.TryFile(DiscoveryStep::kBootRelease, absl::StrCat("/boot/vmlinuz-", release))) {
    return search.Take();
  }
  if (search.TryFile(DiscoveryStep::kBootVmlinuz, "/boot/vmlinuz")) return search.Take();
  return absl::NotFoundError(absl::StrCat(
      "no kernel found. Tried:\n  ", search.TriedList(),
      "\nImport one with `ktstr-kernel import PATH` (tools/setup imports the default Debian "
      "kernel) or set KTSTR_KERNEL / KTSTR_TEST_KERNEL."));
}

}  // namespace ktstr::kcache
