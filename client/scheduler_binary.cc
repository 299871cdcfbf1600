#include "client/scheduler_binary.h"

#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ktstr::client {
namespace {

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

bool IsExecutableFile(const std::string& p) { return access(p.c_str(), X_OK) == 0; }

}  // namespace

bool NeedsSchedulerBinary(const ktstr::v1::ListedTest& t) {
  if (!t.has_scheduler_def()) return false;
  const std::string& kind = t.scheduler_def().binary_kind();
  return kind != "eevdf" && kind != "";
}

absl::StatusOr<std::string> ResolveSchedulerBinary(const std::string& test_binary,
                                                   const ktstr::v1::ListedSchedulerDef& def,
                                                   const std::string& search_path) {
  const std::string dir = DirOf(test_binary);
  if (def.binary_kind() == "path") {
    std::string p = !def.binary().empty() && def.binary()[0] == '/'
                        ? def.binary()
                        : absl::StrCat(dir, "/", def.binary());
    if (IsExecutableFile(p)) return p;
    return absl::NotFoundError(absl::StrCat("scheduler '", def.name(), "': ", p,
                                            " is not an executable file (SchedulerSpec::Path "
                                            "is relative to the test binary's directory)"));
  }
  if (def.binary_kind() != "discover") {
    return absl::UnimplementedError(absl::StrCat("scheduler '", def.name(), "': binary kind '",
                                                 def.binary_kind(),
                                                 "' cannot be submitted to ktstrd yet"));
  }
  const std::string& name = def.binary();
  if (name.empty() || name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scheduler '", def.name(), "': SchedulerSpec::Discover wants a bare name, got '", name,
        "'"));
  }
  std::vector<std::string> dirs;
  for (absl::string_view d : absl::StrSplit(search_path, ':', absl::SkipEmpty())) {
    dirs.emplace_back(d);
  }
  dirs.push_back(dir);
  dirs.push_back(absl::StrCat(dir, "/schedulers"));
  for (const std::string& d : dirs) {
    std::string p = absl::StrCat(d, "/", name);
    if (IsExecutableFile(p)) return p;
  }
  return absl::NotFoundError(absl::StrCat(
      "scheduler '", def.name(), "': no executable '", name, "' in ", absl::StrJoin(dirs, ", "),
      " (set $", config::kSchedulerPathEnv, " or add the loader as a `data` dependency of the "
      "test binary)"));
}

ktstr::v1::SchedulerSpec SchedulerSpecFor(const ktstr::v1::ListedTest& t,
                                          const ktstr::v1::ListedFlagProfile* profile) {
  const ktstr::v1::ListedSchedulerDef& d = t.scheduler_def();
  ktstr::v1::SchedulerSpec s;
  s.set_name(d.name());
  // Profiles are ordered by size: the first is the default (required flags only). A
  // profile's argv already holds sched_args, the test's extra_sched_args and the flags' args.
  if (profile == nullptr && d.profiles_size() > 0) profile = &d.profiles(0);
  if (profile != nullptr) {
    for (const std::string& a : profile->args()) s.add_args(a);
  } else {
    for (const std::string& a : d.sched_args()) s.add_args(a);
    for (const std::string& a : t.extra_sched_args()) s.add_args(a);
  }
  for (const auto& sc : d.sysctls()) {
    ktstr::v1::Sysctl* o = s.add_sysctls();
    o->set_key(sc.key());
    o->set_value(sc.value());
  }
  for (const std::string& k : d.kargs()) s.add_kernel_args(k);
  // The loader registers its ops under the scheduler's name (the SchedulerDef contract).
  s.set_expected_ops_name(d.name());
  return s;
}

}  // namespace ktstr::client
