#include "kernel_cache/kernel_builder.h"

#include <unistd.h>

#include <ctime>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "kernel_cache/cache_key.h"
#include "kernel_cache/fs_util.h"
#include "kernel_cache/kconfig.h"
#include "kernel_cache/subprocess.h"
#include "spdlog/spdlog.h"

namespace ktstr::kcache {
namespace {

constexpr char kLogName[] = "ktstr-build.log";
// Number of compile lines of the last successful build, for the next build's progress bar.
constexpr char kLineCountName[] = ".ktstr-build-objects";
// "<crc of the .config we produced> <crc of the user's .config or ->": lets the next build
// tell our own generated .config from one the user wrote (only the latter is in the key).
constexpr char kConfigMarkerName[] = ".ktstr-build-config";

struct GitState {
  bool is_git = false;
  bool dirty = false;
  std::string hash;  // full HEAD hash
};

GitState ReadGitState(const std::string& tree) {
  GitState g;
  auto head = RunCommand({"git", "-C", tree, "rev-parse", "HEAD"});
  if (!head.ok() || !head->ok()) return g;
  g.is_git = true;
  g.hash = std::string(absl::StripAsciiWhitespace(head->output_tail));
  auto status = RunCommand({"git", "-C", tree, "status", "--porcelain", "--untracked-files=no"});
  g.dirty =
      !status.ok() || !status->ok() || !absl::StripAsciiWhitespace(status->output_tail).empty();
  return g;
}

// make's "  CC      kernel/sched/core.o" style lines count as one object each.
bool IsObjectLine(absl::string_view line) {
  return absl::StartsWith(line, "  CC ") || absl::StartsWith(line, "  AS ") ||
         absl::StartsWith(line, "  LD ") || absl::StartsWith(line, "  AR ");
}

class Builder {
 public:
  Builder(const KernelCache& cache, const BuildOptions& o)
      : cache_(cache),
        o_(o),
        start_(absl::Now()),
        log_(absl::StrCat(o.source_dir, "/", kLogName)) {}

  absl::StatusOr<BuildResult> Run();

 private:
  void Report(BuildPhase phase, int64_t done, int64_t total, absl::string_view detail) {
    if (!o_.progress) return;
    o_.progress(BuildProgress{phase, absl::Now() - start_, done, total, std::string(detail)});
  }
  absl::Status Make(const std::vector<std::string>& args, absl::Duration timeout, BuildPhase phase,
                    int64_t total_objects);
  absl::Status Configure();
  std::optional<std::string> UserConfigCrc() const;
  std::string ComputeKey(const GitState& g) const;

  const KernelCache& cache_;
  const BuildOptions& o_;
  absl::Time start_;
  std::string log_;
  std::optional<std::string> user_config_crc_;
};

absl::Status Builder::Make(const std::vector<std::string>& args, absl::Duration timeout,
                           BuildPhase phase, int64_t total_objects) {
  std::vector<std::string> argv = {"make", "-C", o_.source_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandOptions opts;
  opts.log_path = log_;
  opts.timeout = timeout;
  opts.keep_tail_bytes = 8192;
  int64_t objects = 0;
  absl::Time last_report = absl::InfinitePast();
  opts.on_line = [&](absl::string_view line) {
    if (IsObjectLine(line)) ++objects;
    if (absl::Now() - last_report >= absl::Milliseconds(500)) {
      last_report = absl::Now();
      Report(phase, objects, total_objects, absl::StripAsciiWhitespace(line));
    }
  };
  absl::StatusOr<CommandResult> r = RunCommandOk(argv, opts);
  if (!r.ok()) {
    return absl::InternalError(absl::StrCat("`make ", absl::StrJoin(args, " "), "` failed in ",
                                            o_.source_dir, "; full log kept at ", log_, "\n",
                                            r.status().message()));
  }
  if (phase == BuildPhase::kCompile && objects > 0) {
    (void)WriteStringToFile(absl::StrCat(o_.source_dir, "/", kLineCountName),
                            absl::StrCat(objects, "\n"));
  }
  return absl::OkStatus();
}

absl::Status Builder::Configure() {
  const std::string config = absl::StrCat(o_.source_dir, "/.config");
  Report(BuildPhase::kConfigure, 0, 0, "configuring");
  if (o_.clean) {
    if (absl::Status s = Make({"mrproper"}, config::kMakeConfigTimeout, BuildPhase::kConfigure, 0);
        !s.ok())
      return s;
  }
  if (!IsRegularFile(config)) {
    if (absl::Status s = Make({"defconfig"}, config::kMakeConfigTimeout, BuildPhase::kConfigure, 0);
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<std::string> text = ReadFileToString(config);
  if (!text.ok()) return text.status();
  if (!absl::EndsWith(*text, "\n")) *text += "\n";
  absl::StrAppend(&*text, "# --- appended by ktstr (tools/ktstr.kconfig) ---\n",
                  KtstrKconfigFragment());
  if (absl::Status s = WriteStringToFile(config, *text); !s.ok()) return s;
  if (absl::Status s =
          Make({"olddefconfig"}, config::kMakeConfigTimeout, BuildPhase::kConfigure, 0);
      !s.ok()) {
    return s;
  }
  Report(BuildPhase::kVerify, 0, 0, "checking required options");
  absl::StatusOr<KconfigValues> values = ReadKconfigFile(config);
  if (!values.ok()) return values.status();
  for (const std::string& o :
       UnappliedFragmentOptions(ParseKconfig(KtstrKconfigFragment()), *values)) {
    spdlog::warn("ktstr.kconfig option not applied in {}: {}", o_.source_dir, o);
  }
  std::vector<std::string> missing = MissingRequiredOptions(*values);
  if (!missing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "after make olddefconfig these required options are not =y in ", config, ": ",
        absl::StrJoin(missing, ", "),
        " (their dependencies are unmet in this tree, or the tree is too old for sched_ext)"));
  }
  return absl::OkStatus();
}

std::optional<std::string> Builder::UserConfigCrc() const {
  absl::StatusOr<std::string> crc = FileCrc32Hex(o_.source_dir + "/.config");
  if (o_.clean || !crc.ok()) return std::nullopt;  // mrproper drops it; none exists
  absl::StatusOr<std::string> marker =
      ReadFileToString(absl::StrCat(o_.source_dir, "/", kConfigMarkerName));
  if (marker.ok()) {
    std::vector<std::string> parts = absl::StrSplit(absl::StripAsciiWhitespace(*marker), ' ');
    if (parts.size() == 2 && parts[0] == *crc) {
      if (parts[1] == "-") return std::nullopt;
      return parts[1];
    }
  }
  return *crc;
}

std::string Builder::ComputeKey(const GitState& g) const {
  if (o_.key_override) return *o_.key_override;
  const std::string kc = Crc32Hex(KtstrKconfigFragment());
  if (!g.is_git) return LocalUnknownKey(o_.source_dir, HostArch(), kc);
  std::optional<absl::string_view> cfg;
  if (user_config_crc_) cfg = *user_config_crc_;
  return LocalKey(g.hash.substr(0, 7), HostArch(), cfg, kc);
}

absl::StatusOr<BuildResult> Builder::Run() {
  if (!IsRegularFile(o_.source_dir + "/Makefile") || !IsRegularFile(o_.source_dir + "/Kconfig")) {
    return absl::InvalidArgumentError(
        absl::StrCat(o_.source_dir, " is not a kernel source tree (no Makefile/Kconfig)"));
  }
  BuildResult result;
  GitState git = o_.key_override ? GitState{} : ReadGitState(o_.source_dir);
  user_config_crc_ = UserConfigCrc();
  // A clean git tree with a known key may already be cached.
  if (!o_.force && (o_.key_override || (git.is_git && !git.dirty))) {
    if (auto hit = cache_.Get(ComputeKey(git)); hit.ok() && !hit->stale_fragment) {
      result.cache_hit = result.stored = true;
      result.entry = *hit;
      result.image_path = hit->image_path();
      result.vmlinux_path = hit->vmlinux_path();
      return result;
    }
  }
  (void)RemoveTree(log_);
  if (absl::Status s = Configure(); !s.ok()) return s;
  if (o_.configure_only) {
    (void)RemoveTree(log_);
    result.not_stored_reason =
        "configure only: every required option is set (see warnings for optional ones)";
    result.elapsed = absl::Now() - start_;
    Report(BuildPhase::kDone, 0, 0, result.not_stored_reason);
    return result;
  }
  int64_t expected = 0;
  if (auto n = ReadFileToString(absl::StrCat(o_.source_dir, "/", kLineCountName)); n.ok()) {
    (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(*n), &expected);
  }
  int jobs =
      o_.jobs > 0 ? o_.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (absl::Status s = Make({absl::StrCat("-j", jobs), "KCFLAGS=-Wno-error", "bzImage"},
                            config::kMakeBuildTimeout, BuildPhase::kCompile, expected);
      !s.ok()) {
    return s;
  }
  if (absl::StatusOr<std::string> final_crc = FileCrc32Hex(o_.source_dir + "/.config");
      final_crc.ok()) {
    (void)WriteStringToFile(absl::StrCat(o_.source_dir, "/", kConfigMarkerName),
                            absl::StrCat(*final_crc, " ", user_config_crc_.value_or("-"), "\n"));
  }
  result.image_path = absl::StrCat(o_.source_dir, "/", ImageRelPathForArch(HostArch()));
  result.vmlinux_path = o_.source_dir + "/vmlinux";
  if (!IsRegularFile(result.image_path)) {
    return absl::InternalError(
        absl::StrCat("make succeeded but ", result.image_path, " is missing; log: ", log_));
  }
  // Re-check: a tree edited during the build must not be cached under the old hash.
  GitState after = o_.key_override ? GitState{} : ReadGitState(o_.source_dir);
  if (!o_.key_override && git.is_git && (git.dirty || after.dirty || after.hash != git.hash)) {
    result.not_stored_reason = "the git tree has uncommitted changes: built in place, not cached";
  } else {
    Report(BuildPhase::kStore, 0, 0, "storing in the cache");
    CommandOptions quick;
    quick.timeout = config::kMakeConfigTimeout;
    absl::StatusOr<CommandResult> rel =
        RunCommandOk({"make", "-s", "-C", o_.source_dir, "kernelrelease"}, quick);
    if (!rel.ok()) return rel.status();
    KernelMetadata m;
    m.version = std::string(absl::StripAsciiWhitespace(rel->output_tail));
    m.source = o_.key_override ? o_.source : KernelSource::kLocal;
    m.source_detail = o_.source_detail.empty() ? o_.source_dir : o_.source_detail;
    m.git_hash = git.hash;
    m.arch = HostArch();
    m.image_name =
        ImageRelPathForArch(HostArch()).substr(ImageRelPathForArch(HostArch()).rfind('/') + 1);
    absl::StatusOr<std::string> cfg_crc = FileCrc32Hex(o_.source_dir + "/.config");
    if (!cfg_crc.ok()) return cfg_crc.status();
    m.config_hash = *cfg_crc;
    m.kconfig_fragment_hash = Crc32Hex(KtstrKconfigFragment());
    m.created_unix_s = static_cast<int64_t>(std::time(nullptr));
    absl::StatusOr<KconfigValues> values = ReadKconfigFile(o_.source_dir + "/.config");
    m.sched_ext = values.ok() && HasSchedExt(*values);
    StagedKernel files{result.image_path,
                       IsRegularFile(result.vmlinux_path) ? result.vmlinux_path : "",
                       o_.source_dir + "/.config"};
    absl::StatusOr<CacheEntry> e = cache_.Store(ComputeKey(git), files, std::move(m));
    if (!e.ok()) return e.status();
    result.entry = *std::move(e);
    result.stored = true;
  }
  (void)RemoveTree(log_);  // kept only on failure
  result.elapsed = absl::Now() - start_;
  Report(BuildPhase::kDone, 0, 0, result.stored ? result.entry.key : result.not_stored_reason);
  return result;
}

}  // namespace

absl::string_view BuildPhaseName(BuildPhase phase) {
  switch (phase) {
    case BuildPhase::kFetch:
      return "fetch";
    case BuildPhase::kUnpack:
      return "unpack";
    case BuildPhase::kConfigure:
      return "configure";
    case BuildPhase::kCompile:
      return "compile";
    case BuildPhase::kVerify:
      return "verify";
    case BuildPhase::kStore:
      return "store";
    case BuildPhase::kDone:
      return "done";
  }
  return "unknown";
}

absl::StatusOr<BuildResult> BuildSourceTree(const KernelCache& cache, const BuildOptions& options) {
  if (options.source_dir.empty()) return absl::InvalidArgumentError("no source tree given");
  return Builder(cache, options).Run();
}

}  // namespace ktstr::kcache
