// ktstr-kernel: the kernel cache on the command line, working directly on a cache
// directory (no daemon). tools/setup uses it to import the default Debian kernel; the
// daemon offers the same operations over gRPC (`ktstr-client kernel ...`).

#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kernel_cache/build_progress_printer.h"
#include "kernel_cache/cache_layout.h"
#include "kernel_cache/discovery.h"
#include "kernel_cache/flat_json.h"
#include "kernel_cache/importer.h"
#include "kernel_cache/kernel_builder.h"
#include "kernel_cache/kernel_cache.h"
#include "kernel_cache/kernel_image.h"
#include "kernel_cache/kernel_source.h"
#include "kernel_cache/subprocess.h"
#include "spdlog/spdlog.h"

namespace ktstr::kcache {
namespace {

constexpr char kUsage[] = R"(ktstr-kernel — manage the ktstr guest-kernel cache

Usage: ktstr-kernel [--cache-dir DIR] COMMAND [ARGS]

Commands:
  list [--json]            Cached kernels, newest first, with sched_ext/BTF support;
                           marks (default), (stale kconfig) and (corrupt: why).
  import PATH [...]        Add a kernel: a bzImage or ELF vmlinux, Debian .deb packages
                           (linux-image-*, or linux-binary-* with linux-base-* beside it),
                           or a directory holding an unpacked Debian kernel such as
                           tools/setup's ~/.cache/ktstr/debian/default. Idempotent.
      --vmlinux FILE         ELF with symbols/BTF to go with a bzImage
      --config FILE          the kernel's .config
      --version V            override the detected kernel release
      --force                replace an existing entry with the same key
  build [VERSION]          Build with tools/ktstr.kconfig and cache the result.
      --source DIR           a kernel tree (default when no VERSION: ./linux)
      VERSION                X.Y or X.Y.Z: Debian's linux-source-X.Y (via the private apt
                             tree tools/setup made), else a kernel.org tarball
      --force                rebuild even when cached    --clean   make mrproper first
      --configure-only       stop after configuring and checking the required options
      -j N                   parallel make jobs (default: all CPUs)
  clean [--keep N] [--corrupt-only]
                           Remove entries (keep the newest N valid ones); kernels in use
                           by a running VM are skipped.
  discover [-v]            Print the kernel tests would use with no flags (read-only):
                           KTSTR_TEST_KERNEL, KTSTR_KERNEL, the cache, ./linux, ../linux,
                           /lib/modules/$(uname -r)/..., /boot/vmlinuz...; -v lists the
                           places tried.

Cache directory: --cache-dir, else ${KTSTR_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/ktstr}/kernels.
Exit status: 0 ok, 1 error, 2 usage.
)";

int UsageError(const std::string& msg) {
  std::cerr << "ktstr-kernel: " << msg << "\nRun `ktstr-kernel --help` for usage.\n";
  return 2;
}

int Fail(const absl::Status& s) {
  std::cerr << "ktstr-kernel: " << s.message() << "\n";
  return 1;
}

std::string Age(int64_t created) {
  int64_t s = static_cast<int64_t>(std::time(nullptr)) - created;
  if (s < 120) return absl::StrCat(std::max<int64_t>(s, 0), "s ago");
  if (s < 7200) return absl::StrCat(s / 60, "m ago");
  if (s < 172800) return absl::StrCat(s / 3600, "h ago");
  return absl::StrCat(s / 86400, "d ago");
}

std::string EntryJson(const CacheEntry& e, bool is_default) {
  const KernelMetadata& m = e.metadata;
  return WriteFlatJson({
      {"cache_key", e.key},
      {"version", m.version},
      {"source", std::string(e.valid() ? KernelSourceName(m.source) : "")},
      {"arch", m.arch},
      {"config_hash", m.config_hash},
      {"kconfig_fragment_hash", m.kconfig_fragment_hash},
      {"created_unix_s", m.created_unix_s},
      {"sched_ext", m.sched_ext},
      {"btf", m.btf},
      {"has_vmlinux", m.has_vmlinux},
      {"stale_fragment", e.stale_fragment},
      {"corrupt", !e.valid()},
      {"error_kind", std::string(e.valid() ? "" : CorruptKindName(e.corrupt))},
      {"corrupt_reason", e.corrupt_reason},
      {"size_bytes", static_cast<int64_t>(e.size_bytes)},
      {"is_default", is_default},
      {"image_path", e.valid() ? e.image_path() : ""},
      {"vmlinux_path", e.valid() ? e.vmlinux_path() : ""},
  });
}

int List(const KernelCache& cache, bool json) {
  std::vector<CacheEntry> entries = cache.List();
  absl::StatusOr<CacheEntry> def = cache.Newest();
  std::string default_key = def.ok() ? def->key : "";
  if (json) {
    std::string out = "[";
    for (size_t i = 0; i < entries.size(); ++i) {
      std::string obj = EntryJson(entries[i], entries[i].key == default_key);
      if (!obj.empty() && obj.back() == '\n') obj.pop_back();
      absl::StrAppend(&out, i ? ",\n" : "\n", obj);
    }
    std::cout << out << (entries.empty() ? "]\n" : "\n]\n");
    return 0;
  }
  std::cout << "kernel cache: " << cache.layout().root() << "\n";
  if (entries.empty()) {
    std::cout << "(empty) — import one with `ktstr-kernel import PATH` or run tools/setup\n";
    return 0;
  }
  std::cout << absl::StrFormat("%-48s %-26s %-13s %-9s %-4s %-8s %8s\n", "KEY", "VERSION", "SOURCE",
                               "SCHED_EXT", "BTF", "AGE", "SIZE");
  for (const CacheEntry& e : entries) {
    if (!e.valid()) {
      std::cout << absl::StrFormat("%-48s (corrupt: %s: %s)\n", e.key, CorruptKindName(e.corrupt),
                                   e.corrupt_reason);
      continue;
    }
    const KernelMetadata& m = e.metadata;
    std::string marks;
    if (e.key == default_key) marks += " (default)";
    if (e.stale_fragment) marks += " (stale kconfig)";
    std::cout << absl::StrFormat("%-48s %-26s %-13s %-9s %-4s %-8s %7.1fM%s\n", e.key, m.version,
                                 KernelSourceName(m.source), m.sched_ext ? "yes" : "no",
                                 m.btf ? "yes" : "no", Age(m.created_unix_s),
                                 static_cast<double>(e.size_bytes) / (1 << 20), marks);
  }
  return 0;
}

int Import(const KernelCache& cache, const std::vector<std::string>& args) {
  ImportOptions o;
  std::string vmlinux, config;
  std::vector<std::string> paths;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "--force")
      o.force = true;
    else if (a == "--vmlinux" && has_value)
      vmlinux = args[++i];
    else if (a == "--config" && has_value)
      config = args[++i];
    else if (a == "--version" && has_value)
      o.version = args[++i];
    else if (a.rfind("--", 0) == 0)
      return UsageError(absl::StrCat("import: unknown or incomplete option ", a));
    else
      paths.push_back(a);
  }
  if (paths.empty()) return UsageError("import: give a bzImage, vmlinux, .deb or directory");
  absl::StatusOr<ImportResult> r;
  if (paths.size() > 1 || SniffFileKind(paths[0]) == FileKind::kDebPackage) {
    r = ImportDebianPackages(cache, paths, o);
  } else if (!vmlinux.empty() || !config.empty()) {
    r = ImportImage(cache, paths[0], vmlinux, config, o);
  } else {
    r = ImportPath(cache, paths[0], o);
  }
  if (!r.ok()) return Fail(r.status());
  const KernelMetadata& m = r->entry.metadata;
  std::cout << (r->already_cached ? "already cached: " : "imported: ") << r->entry.key
            << "\n  version " << m.version << ", sched_ext " << (m.sched_ext ? "yes" : "no")
            << ", BTF " << (m.btf ? "yes" : "no") << "\n  boot " << r->entry.boot_path() << "\n";
  return 0;
}

int Clean(const KernelCache& cache, const std::vector<std::string>& args) {
  CleanOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    size_t keep = 0;
    if (args[i] == "--corrupt-only") {
      o.corrupt_only = true;
    } else if (args[i] == "--keep" && i + 1 < args.size() && absl::SimpleAtoi(args[i + 1], &keep)) {
      o.keep = keep;
      ++i;
    } else {
      return UsageError(absl::StrCat("clean: bad argument ", args[i]));
    }
  }
  absl::StatusOr<CleanResult> r = cache.Clean(o);
  if (!r.ok()) return Fail(r.status());
  for (const std::string& k : r->removed) std::cout << "removed " << k << "\n";
  for (const std::string& k : r->in_use) std::cout << "in use, kept " << k << "\n";
  std::cout << r->removed.size() << " removed\n";
  return 0;
}

int Build(const KernelCache& cache, const std::vector<std::string>& args) {
  BuildOptions o;
  o.progress = StderrBuildProgressPrinter();
  std::string version;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--force")
      o.force = true;
    else if (a == "--clean")
      o.clean = true;
    else if (a == "--configure-only")
      o.configure_only = true;
    else if (a == "--source" && i + 1 < args.size())
      o.source_dir = args[++i];
    else if (a == "-j" && i + 1 < args.size() && absl::SimpleAtoi(args[i + 1], &o.jobs))
      ++i;
    else if (a.rfind("-", 0) == 0)
      return UsageError(absl::StrCat("build: unknown option ", a));
    else if (version.empty())
      version = a;
    else
      return UsageError("build: one VERSION at most");
  }
  if (!version.empty() && !o.source_dir.empty())
    return UsageError("build: VERSION or --source, not both");
  absl::StatusOr<BuildResult> r;
  if (!version.empty()) {
    absl::StatusOr<std::string> root = KtstrCacheDir(RealEnv());
    if (!root.ok()) return Fail(root.status());
    r = BuildVersion(cache, version, *root, o);
  } else {
    if (o.source_dir.empty()) o.source_dir = "linux";
    r = BuildSourceTree(cache, o);
  }
  if (!r.ok()) {
    std::cerr << "\n";
    return Fail(r.status());
  }
  if (r->cache_hit)
    std::cout << "cache hit: " << r->entry.key << "\n";
  else if (r->stored)
    std::cout << "built and cached in "
              << absl::FormatDuration(absl::Trunc(r->elapsed, absl::Seconds(1))) << ": "
              << r->entry.key << "\n";
  else if (o.configure_only)
    std::cout << r->not_stored_reason << " (" << (version.empty() ? o.source_dir : version)
              << ")\n";
  else
    std::cout << "built in " << absl::FormatDuration(absl::Trunc(r->elapsed, absl::Seconds(1)))
              << ", not cached: " << r->not_stored_reason << "\n  image " << r->image_path << "\n";
  return 0;
}

int Discover(const KernelCache& cache, bool verbose) {
  absl::StatusOr<DiscoveredKernel> k = DiscoverKernel(RealEnv(), &cache);
  if (!k.ok()) return Fail(k.status());
  std::cout << k->boot_path() << "\n";
  if (verbose) {
    std::cout << "  found by: " << DiscoveryStepName(k->step) << "\n  image: " << k->image_path
              << "\n";
    if (!k->cache_key.empty()) std::cout << "  cache key: " << k->cache_key << "\n";
    for (const std::string& t : k->tried) std::cout << "  tried " << t << "\n";
  }
  return 0;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string cache_dir;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h" || args[i] == "help") {
      std::cout << kUsage;
      return 0;
    }
    if (args[i] == "--cache-dir") {
      if (i + 1 >= args.size()) return UsageError("--cache-dir needs a directory");
      cache_dir = args[++i];
    } else {
      rest.push_back(args[i]);
    }
  }
  if (rest.empty()) return UsageError("no command");
  const std::string cmd = rest[0];
  std::vector<std::string> cmd_args(rest.begin() + 1, rest.end());
  if (cmd != "list" && cmd != "import" && cmd != "clean" && cmd != "build" && cmd != "discover") {
    return UsageError(absl::StrCat("unknown command ", cmd));
  }
  if (cache_dir.empty()) {
    absl::StatusOr<std::string> root = DefaultKernelCacheRoot(RealEnv());
    if (!root.ok()) return Fail(root.status());
    cache_dir = *root;
  }
  absl::StatusOr<std::unique_ptr<KernelCache>> cache = KernelCache::Open(cache_dir);
  if (!cache.ok()) return Fail(cache.status());
  if (cmd == "list") {
    if (cmd_args.size() > 1 || (cmd_args.size() == 1 && cmd_args[0] != "--json"))
      return UsageError("list [--json]");
    return List(**cache, !cmd_args.empty());
  }
  if (cmd == "import") return Import(**cache, cmd_args);
  if (cmd == "clean") return Clean(**cache, cmd_args);
  if (cmd == "build") return Build(**cache, cmd_args);
  if (cmd_args.size() > 1 || (cmd_args.size() == 1 && cmd_args[0] != "-v"))
    return UsageError("discover [-v]");
  return Discover(**cache, !cmd_args.empty());
}

}  // namespace
}  // namespace ktstr::kcache

int main(int argc, char** argv) {
  spdlog::set_pattern("[%^%l%$] %v");
  spdlog::set_level(spdlog::level::warn);
  ktstr::kcache::ForwardTerminationSignalsToChildren();  // Ctrl-C stops make too
  return ktstr::kcache::Main(argc, argv);
}
