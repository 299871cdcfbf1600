#include "guest_agent/testlib/list_json.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace ktstr {
namespace {

std::string Str(const std::string& s) { return absl::StrCat("\"", JsonEscape(s), "\""); }

std::string StrList(const std::vector<std::string>& v) {
  std::vector<std::string> q;
  for (const std::string& s : v) q.push_back(Str(s));
  return absl::StrCat("[", absl::StrJoin(q, ","), "]");
}

std::string Num(double v) { return absl::StrFormat("%.17g", v); }

template <typename T>
std::string Opt(const std::optional<T>& v) {
  if (!v.has_value()) return "null";
  if constexpr (std::is_same_v<T, bool>)
    return *v ? "true" : "false";
  else if constexpr (std::is_floating_point_v<T>)
    return Num(*v);
  else
    return absl::StrCat(*v);
}

const char* SpecKind(SchedulerSpec::Kind k) {
  switch (k) {
    case SchedulerSpec::Kind::kEevdf:
      return "eevdf";
    case SchedulerSpec::Kind::kDiscover:
      return "discover";
    case SchedulerSpec::Kind::kPath:
      return "path";
    case SchedulerSpec::Kind::kKernelBuiltin:
      return "kernel_builtin";
  }
  return "?";
}

std::vector<std::string> CheckFields(const Assert& a) {
  return {
      absl::StrCat("\"not_starved\":", Opt(a.not_starved)),
      absl::StrCat("\"isolation\":", Opt(a.isolation)),
      absl::StrCat("\"max_gap_ms\":", Opt(a.max_gap_ms)),
      absl::StrCat("\"max_spread_pct\":", Opt(a.max_spread_pct)),
      absl::StrCat("\"max_throughput_cv\":", Opt(a.max_throughput_cv)),
      absl::StrCat("\"min_work_rate\":", Opt(a.min_work_rate)),
      absl::StrCat("\"max_p99_wake_latency_ns\":", Opt(a.max_p99_wake_latency_ns)),
      absl::StrCat("\"max_wake_latency_cv\":", Opt(a.max_wake_latency_cv)),
      absl::StrCat("\"min_iteration_rate\":", Opt(a.min_iteration_rate)),
      absl::StrCat("\"max_migration_ratio\":", Opt(a.max_migration_ratio)),
      absl::StrCat("\"max_imbalance_ratio\":", Opt(a.max_imbalance_ratio)),
      absl::StrCat("\"max_local_dsq_depth\":", Opt(a.max_local_dsq_depth)),
      absl::StrCat("\"fail_on_stall\":", Opt(a.fail_on_stall)),
      absl::StrCat("\"sustained_samples\":", Opt(a.sustained_samples)),
      absl::StrCat("\"max_fallback_rate\":", Opt(a.max_fallback_rate)),
      absl::StrCat("\"max_keep_last_rate\":", Opt(a.max_keep_last_rate)),
      absl::StrCat("\"min_page_locality\":", Opt(a.min_page_locality)),
      absl::StrCat("\"max_cross_node_migration_ratio\":", Opt(a.max_cross_node_migration_ratio)),
      absl::StrCat("\"max_slow_tier_ratio\":", Opt(a.max_slow_tier_ratio)),
  };
}

std::string SchedulerJson(const ResolvedAttrs& r) {
  const SchedulerDef& d = *r.scheduler;
  if (d.name.empty() && d.binary.kind == SchedulerSpec::Kind::kEevdf) return "null";
  std::vector<std::string> flags, sysctls, profiles;
  for (const FlagDecl& f : d.flags) {
    flags.push_back(absl::StrCat("{\"name\":", Str(f.name), ",\"args\":", StrList(f.args),
                                 ",\"requires\":", StrList(f.requires_flags), "}"));
  }
  for (const Sysctl& s : d.sysctls) {
    sysctls.push_back(absl::StrCat("{\"key\":", Str(s.key), ",\"value\":", Str(s.value), "}"));
  }
  for (const auto& p : r.flag_profiles) {
    profiles.push_back(absl::StrCat("{\"name\":", Str(ProfileName(p)), ",\"flags\":", StrList(p),
                                    ",\"args\":", StrList(SchedulerArgs(d, r.extra_sched_args, p)),
                                    "}"));
  }
  return absl::StrCat(
      "{\"name\":", Str(d.name), ",\"binary_kind\":", Str(SpecKind(d.binary.kind)),
      ",\"binary\":", Str(d.binary.name_or_path), ",\"enable\":", StrList(d.binary.enable),
      ",\"disable\":", StrList(d.binary.disable), ",\"sched_args\":", StrList(d.sched_args),
      ",\"flags\":[", absl::StrJoin(flags, ","), "],\"sysctls\":[", absl::StrJoin(sysctls, ","),
      "],\"kargs\":", StrList(d.kargs), ",\"cgroup_parent\":", Str(d.cgroup_parent),
      ",\"config_file\":", Str(d.config_file), ",\"profiles\":[", absl::StrJoin(profiles, ","),
      "]}");
}

}  // namespace

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

absl::StatusOr<std::string> TestsToJson(const std::vector<TestEntry>& tests) {
  std::vector<std::string> items;
  for (const TestEntry& t : tests) {
    absl::StatusOr<ResolvedAttrs> r = ResolveAttrs(t.name, t.attrs);
    if (!r.ok()) return r.status();
    std::vector<std::string> f = {
        absl::StrCat("\"name\":", Str(t.name)),
        absl::StrCat("\"numa_nodes\":", r->numa_nodes),
        absl::StrCat("\"llcs\":", r->llcs),
        absl::StrCat("\"cores\":", r->cores),
        absl::StrCat("\"threads\":", r->threads),
        absl::StrCat("\"memory_mb\":", r->memory_mb),
        absl::StrCat("\"duration_s\":", r->duration_s),
        absl::StrCat("\"workers_per_cgroup\":", r->workers_per_cgroup),
        absl::StrCat("\"scheduler\":", Str(r->scheduler->name)),
        absl::StrCat("\"expect_err\":", r->expect_err ? "true" : "false"),
        absl::StrCat("\"extra_sched_args\":", StrList(r->extra_sched_args)),
        absl::StrCat("\"watchdog_timeout_s\":", r->watchdog_timeout_s),
        absl::StrCat("\"required_flags\":", StrList(r->required_flags)),
        absl::StrCat("\"excluded_flags\":", StrList(r->excluded_flags)),
        absl::StrCat("\"min_numa_nodes\":", r->min_numa_nodes),
        absl::StrCat("\"max_numa_nodes\":", r->max_numa_nodes),
        absl::StrCat("\"min_llcs\":", r->min_llcs),
        absl::StrCat("\"max_llcs\":", r->max_llcs),
        absl::StrCat("\"min_cpus\":", r->min_cpus),
        absl::StrCat("\"max_cpus\":", r->max_cpus),
        absl::StrCat("\"requires_smt\":", r->requires_smt ? "true" : "false"),
        absl::StrCat("\"auto_repro\":", r->auto_repro ? "true" : "false"),
        absl::StrCat("\"performance_mode\":", r->performance_mode ? "true" : "false"),
        absl::StrCat("\"host_only\":", r->host_only ? "true" : "false"),
        absl::StrCat("\"cleanup_budget_ms\":", Opt(r->cleanup_budget_ms)),
        absl::StrCat("\"scheduler_def\":", SchedulerJson(*r)),
        absl::StrCat("\"source\":", Str(absl::StrCat(t.file, ":", t.line))),
    };
    std::vector<std::string> checks = CheckFields(r->checks);
    f.insert(f.end(), checks.begin(), checks.end());
    items.push_back(absl::StrCat("{", absl::StrJoin(f, ","), "}"));
  }
  return absl::StrCat("{\"tests\":[", absl::StrJoin(items, ","), "]}");
}

}  // namespace ktstr
