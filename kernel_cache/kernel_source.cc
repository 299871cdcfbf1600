#include "kernel_cache/kernel_source.h"

#include <dirent.h>

#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "kernel_cache/cache_key.h"
#include "kernel_cache/fs_util.h"
#include "kernel_cache/kconfig.h"
#include "kernel_cache/subprocess.h"

namespace ktstr::kcache {
namespace {

std::string FindFile(const std::string& dir, absl::string_view prefix, absl::string_view suffix) {
  std::string found;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (absl::StartsWith(n, prefix) && absl::EndsWith(n, suffix)) found = n;
    }
    closedir(d);
  }
  return found;
}

void Report(const ProgressFn& p, BuildPhase phase, absl::string_view detail) {
  if (p) p(BuildProgress{phase, absl::ZeroDuration(), 0, 0, std::string(detail)});
}

}  // namespace

absl::StatusOr<std::string> MajorMinor(const std::string& version) {
  std::vector<std::string> parts = absl::StrSplit(version, '.');
  if (parts.size() < 2 || parts.size() > 3 ||
      ClassifyKernelSpec(version) != KernelSpecKind::kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", version, "\" is not a kernel version (X.Y or X.Y.Z)"));
  }
  return absl::StrCat(parts[0], ".", parts[1]);
}

absl::StatusOr<SourceTree> FetchDebianSource(const std::string& version,
                                             const std::string& ktstr_cache_dir,
                                             const ProgressFn& progress) {
  absl::StatusOr<std::string> xy = MajorMinor(version);
  if (!xy.ok()) return xy.status();
  const std::string pkg = absl::StrCat("linux-source-", *xy);
  const std::string build_dir = absl::StrCat(ktstr_cache_dir, "/build");
  const std::string debs = absl::StrCat(build_dir, "/debs");
  if (absl::Status s = MakeDirs(debs); !s.ok()) return s;
  CommandOptions apt;
  apt.cwd = debs;
  apt.timeout = config::kAptDownloadTimeout;
  const std::string apt_conf = absl::StrCat(ktstr_cache_dir, "/apt/etc/apt.conf");
  if (IsRegularFile(apt_conf)) apt.env.push_back({"APT_CONFIG", apt_conf});
  // Ask apt which file it would fetch; skip the ~150 MB download when it is already here.
  // (Run outside `debs`: apt prints nothing for a file already in its working directory.)
  CommandOptions apt_uris = apt;
  apt_uris.cwd = build_dir;
  absl::StatusOr<CommandResult> uris =
      RunCommandOk({"apt-get", "-q", "download", "--print-uris", pkg}, apt_uris);
  if (!uris.ok()) {
    return absl::NotFoundError(absl::StrCat(
        "Debian has no ", pkg, " (apt-get download failed): ", uris.status().message()));
  }
  // 'http://.../linux-source-6.12_6.12.117-1_all.deb' linux-source-6.12_6.12.117-1_all.deb
  // 153474904 SHA256:...
  std::vector<std::string> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(uris->output_tail), ' ');
  uint64_t size = 0;
  if (fields.size() < 3 || !absl::StartsWith(fields[1], pkg + "_") ||
      !absl::SimpleAtoi(fields[2], &size)) {
    return absl::InternalError(
        absl::StrCat("unexpected apt-get --print-uris output: ", uris->output_tail));
  }
  const std::string deb = fields[1];
  const std::string deb_path = absl::StrCat(debs, "/", deb);
  std::error_code size_error;  // TreeSizeBytes walks directories: a file needs file_size
  if (!IsRegularFile(deb_path) || std::filesystem::file_size(deb_path, size_error) != size) {
    Report(progress, BuildPhase::kFetch,
           absl::StrCat("apt-get download ", pkg, " (", size >> 20, " MB)"));
    absl::StatusOr<CommandResult> dl = RunCommandOk({"apt-get", "-q", "download", pkg}, apt);
    if (!dl.ok()) return dl.status();
    if (!IsRegularFile(deb_path))
      return absl::InternalError(absl::StrCat("apt-get download left no ", deb_path));
  }
  // linux-source-6.12_6.12.117-1~deb12u1_all.deb -> upstream 6.12.117
  std::string pkg_version = deb.substr(pkg.size() + 1);
  pkg_version = pkg_version.substr(0, pkg_version.find('_'));
  std::string upstream = pkg_version.substr(0, pkg_version.find_first_of("-+~"));
  if (version != *xy && upstream != version) {
    return absl::NotFoundError(absl::StrCat("Debian's ", pkg, " is ", upstream, ", not ", version,
                                            "; ask for ", *xy, " to build it"));
  }
  const std::string tree = absl::StrCat(build_dir, "/", pkg, "-", pkg_version);
  const std::string top = absl::StrCat(tree, "/", pkg);
  if (!IsRegularFile(top + "/Makefile")) {
    Report(progress, BuildPhase::kUnpack, absl::StrCat("unpacking ", deb));
    (void)RemoveTree(tree);
    if (absl::Status s = MakeDirs(tree); !s.ok()) return s;
    absl::StatusOr<CommandResult> x = RunCommandOk({"dpkg-deb", "-x", deb_path, tree + "/pkg"});
    if (!x.ok()) return x.status();
    std::string tarball = FindFile(tree + "/pkg/usr/src", pkg, ".tar.xz");
    if (tarball.empty())
      return absl::InternalError(absl::StrCat(deb, " holds no ", pkg, ".tar.xz"));
    absl::StatusOr<CommandResult> t =
        RunCommandOk({"tar", "-C", tree, "-xf", absl::StrCat(tree, "/pkg/usr/src/", tarball)});
    if (!t.ok()) return t.status();
    (void)RemoveTree(tree + "/pkg");
    if (!IsRegularFile(top + "/Makefile"))
      return absl::InternalError(absl::StrCat("no Makefile in ", top));
  }
  return SourceTree{top, upstream, deb, KernelSource::kDebianSource};
}

absl::StatusOr<SourceTree> FetchKernelOrgTarball(const std::string& version,
                                                 const std::string& ktstr_cache_dir,
                                                 const ProgressFn& progress) {
  CommandOptions probe;
  probe.timeout = config::kKernelOrgProbeTimeout;
  absl::StatusOr<CommandResult> r = RunCommand(
      {"curl", "-fsSI", "--max-time", "5", "https://cdn.kernel.org/pub/linux/kernel/"}, probe);
  if (!r.ok() || !r->ok()) {
    return absl::UnavailableError(
        "kernel.org is not reachable from this machine (no network beyond Debian's archive), so "
        "tarball versions cannot be fetched; use a version Debian packages as linux-source-X.Y, "
        "or `build --source DIR`");
  }
  std::vector<std::string> parts = absl::StrSplit(version, '.');
  const std::string url = absl::StrCat("https://cdn.kernel.org/pub/linux/kernel/v", parts[0],
                                       ".x/linux-", version, ".tar.xz");
  const std::string build_dir = absl::StrCat(ktstr_cache_dir, "/build");
  const std::string top = absl::StrCat(build_dir, "/linux-", version);
  if (!IsRegularFile(top + "/Makefile")) {
    const std::string tarball = top + ".tar.xz";
    if (absl::Status s = MakeDirs(build_dir); !s.ok()) return s;
    Report(progress, BuildPhase::kFetch, url);
    CommandOptions dl;
    dl.timeout = config::kAptDownloadTimeout;
    if (auto c = RunCommandOk({"curl", "-fSL", "-o", tarball, url}, dl); !c.ok()) return c.status();
    Report(progress, BuildPhase::kUnpack, tarball);
    if (auto t = RunCommandOk({"tar", "-C", build_dir, "-xf", tarball}); !t.ok()) return t.status();
    (void)RemoveTree(tarball);
  }
  return SourceTree{top, version, url, KernelSource::kTarball};
}

absl::StatusOr<BuildResult> BuildVersion(const KernelCache& cache, const std::string& version,
                                         const std::string& ktstr_cache_dir, BuildOptions options) {
  absl::StatusOr<SourceTree> tree = FetchDebianSource(version, ktstr_cache_dir, options.progress);
  if (!tree.ok()) {
    absl::StatusOr<SourceTree> tarball =
        FetchKernelOrgTarball(version, ktstr_cache_dir, options.progress);
    if (!tarball.ok()) {
      return absl::NotFoundError(absl::StrCat("cannot get the source of ", version, ": ",
                                              tree.status().message(), "; ",
                                              tarball.status().message()));
    }
    tree = std::move(tarball);
  }
  const std::string kc = Crc32Hex(KtstrKconfigFragment());
  options.source_dir = tree->dir;
  options.source = tree->source;
  options.source_detail = tree->origin;
  options.key_override = tree->source == KernelSource::kTarball
                             ? TarballKey(tree->upstream_version, HostArch(), kc)
                             : DebianSourceKey(tree->upstream_version, HostArch(), kc);
  return BuildSourceTree(cache, options);
}

}  // namespace ktstr::kcache
