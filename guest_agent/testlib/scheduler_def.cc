#include "guest_agent/testlib/scheduler_def.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ktstr {

const SchedulerDef kEevdf{};

namespace {

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

const FlagDecl* FindFlag(const SchedulerDef& def, const std::string& name) {
  for (const FlagDecl& f : def.flags)
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace

absl::StatusOr<std::vector<std::vector<std::string>>> FlagProfiles(
    const SchedulerDef& def, const std::vector<std::string>& required,
    const std::vector<std::string>& excluded) {
  const std::string who = def.name.empty() ? "EEVDF" : absl::StrCat("scheduler '", def.name, "'");
  for (const auto* list : {&required, &excluded}) {
    for (const std::string& f : *list) {
      if (FindFlag(def, f) == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("unknown flag '", f, "' for ", who));
      }
      if (list == &required && Contains(excluded, f)) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag '", f, "' is both required and excluded"));
      }
    }
  }
  if (def.flags.size() > 16) {
    return absl::InvalidArgumentError(absl::StrCat(who, " declares more than 16 flags"));
  }
  std::vector<std::vector<std::string>> out;
  const uint32_t n = static_cast<uint32_t>(def.flags.size());
  for (uint32_t mask = 0; mask < (1u << n); ++mask) {
    std::vector<std::string> set;
    for (uint32_t i = 0; i < n; ++i)
      if (mask & (1u << i)) set.push_back(def.flags[i].name);
    bool ok = true;
    for (const std::string& r : required) ok = ok && Contains(set, r);
    for (const std::string& e : excluded) ok = ok && !Contains(set, e);
    for (const std::string& f : set) {
      for (const std::string& dep : FindFlag(def, f)->requires_flags) ok = ok && Contains(set, dep);
    }
    if (ok) out.push_back(std::move(set));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.size() < b.size(); });
  if (out.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no flag profile of ", who, " satisfies the required/excluded flags"));
  }
  return out;
}

std::string ProfileName(const std::vector<std::string>& profile) {
  return profile.empty() ? "default" : absl::StrJoin(profile, "+");
}

std::vector<std::string> SchedulerArgs(const SchedulerDef& def,
                                       const std::vector<std::string>& extra_sched_args,
                                       const std::vector<std::string>& profile) {
  std::vector<std::string> argv;
  if (!def.config_file.empty()) {
    argv.push_back("--config");
    argv.push_back(absl::StrCat("/include-files/", def.config_file));
  }
  if (!def.cgroup_parent.empty()) {
    argv.push_back("--cell-parent-cgroup");
    argv.push_back(def.cgroup_parent);
  }
  argv.insert(argv.end(), def.sched_args.begin(), def.sched_args.end());
  argv.insert(argv.end(), extra_sched_args.begin(), extra_sched_args.end());
  for (const std::string& f : profile) {
    for (const FlagDecl& d : def.flags) {
      if (d.name == f) argv.insert(argv.end(), d.args.begin(), d.args.end());
    }
  }
  return argv;
}

}  // namespace ktstr
