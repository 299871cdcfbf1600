#include "client/gauntlet_plan.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/listed_tests.h"

namespace ktstr::client {
namespace {

std::optional<std::string> Range(uint32_t value, const char* unit, const char* attr, uint32_t lo,
                                 uint32_t hi) {
  if (lo != 0 && value < lo) return absl::StrCat(value, " ", unit, " < min_", attr, " ", lo);
  if (hi != 0 && value > hi) return absl::StrCat(value, " ", unit, " > max_", attr, " ", hi);
  return std::nullopt;
}

ktstr::v1::Topology ToProto(const vmm::Topology& t) {
  ktstr::v1::Topology p;
  p.set_numa_nodes(t.numa_nodes);
  p.set_llcs(t.llcs);
  p.set_cores_per_llc(t.cores_per_llc);
  p.set_threads_per_core(t.threads_per_core);
  return p;
}

// A test's flag profiles; {nullptr} (the single "default") for an EEVDF test.
std::vector<const ktstr::v1::ListedFlagProfile*> ProfilesOf(const ktstr::v1::ListedTest& t) {
  std::vector<const ktstr::v1::ListedFlagProfile*> out;
  for (const auto& p : t.scheduler_def().profiles()) out.push_back(&p);
  if (out.empty()) out.push_back(nullptr);
  return out;
}

std::string NameOf(const ktstr::v1::ListedFlagProfile* p) { return p ? p->name() : "default"; }

bool Selected(const std::vector<std::string>& names, const std::string& name) {
  return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

std::string GauntletVariant::Name(bool with_kernel) const {
  std::string n = absl::StrCat("gauntlet/", test->name(), "/", preset, "/", profile_name());
  if (with_kernel) absl::StrAppend(&n, "/", kernel);
  return n;
}

std::optional<std::string> ConstraintViolation(const ktstr::v1::ListedTest& t,
                                               const vmm::Topology& topo) {
  if (auto r = Range(topo.numa_nodes, "NUMA nodes", "numa_nodes", t.min_numa_nodes(),
                     t.max_numa_nodes())) {
    return r;
  }
  if (auto r = Range(topo.llcs, "LLCs", "llcs", t.min_llcs(), t.max_llcs())) return r;
  if (auto r = Range(topo.TotalCpus(), "CPUs", "cpus", t.min_cpus(), t.max_cpus())) return r;
  if (t.requires_smt() && topo.threads_per_core < 2) return "no SMT (requires_smt)";
  return std::nullopt;
}

absl::StatusOr<GauntletPlan> PlanGauntlet(const std::vector<GauntletBinary>& binaries,
                                          const GauntletSelection& sel) {
  for (const std::string& p : sel.presets) {
    if (absl::StatusOr<vmm::Topology> t = vmm::FindPreset(p); !t.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--presets: ", t.status().message()));
    }
  }
  GauntletPlan plan;
  std::vector<std::string> kernels;  // in the order given, each once
  for (const std::string& k : sel.kernels) {
    if (std::find(kernels.begin(), kernels.end(), k) == kernels.end()) kernels.push_back(k);
  }
  plan.kernels = kernels;
  plan.several_kernels = kernels.size() > 1;
  if (kernels.empty()) kernels.push_back("");  // the daemon's default
  std::set<std::string> known_profiles;
  std::set<std::string> over_cap;
  for (size_t b = 0; b < binaries.size(); ++b) {
    for (const ktstr::v1::ListedTest& t : binaries[b].list.tests()) {
      if (!sel.filter.empty() && !absl::StrContains(t.name(), sel.filter)) continue;
      ++plan.tests_selected;
      if (t.host_only()) {
        plan.host_only.push_back(t.name());
        continue;
      }
      std::vector<const ktstr::v1::ListedFlagProfile*> profiles;
      for (const ktstr::v1::ListedFlagProfile* p : ProfilesOf(t)) {
        known_profiles.insert(NameOf(p));
        if (Selected(sel.profiles, NameOf(p))) profiles.push_back(p);
      }
      for (const vmm::TopologyPreset& preset : vmm::AllPresets()) {
        const std::string name(preset.name);
        if (!Selected(sel.presets, name)) continue;
        if (std::optional<std::string> why = ConstraintViolation(t, preset.topology)) {
          plan.constraint_skips.push_back({t.name(), name, *why});
          continue;
        }
        if (sel.max_vcpus != 0 &&
            static_cast<uint32_t>(preset.topology.TotalCpus()) > sel.max_vcpus) {
          over_cap.insert(name);
          plan.over_cap_variants += profiles.size() * kernels.size();
          continue;
        }
        for (const ktstr::v1::ListedFlagProfile* p : profiles) {
          for (const std::string& k : kernels) {
            plan.variants.push_back({.binary = b,
                                     .test = &t,
                                     .preset = name,
                                     .topology = ToProto(preset.topology),
                                     .profile = p,
                                     .kernel = k});
          }
        }
      }
    }
  }
  for (const std::string& p : sel.profiles) {
    // With no test selected the command reports that instead.
    if (!known_profiles.empty() && !known_profiles.contains(p)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--profiles: no selected test has a flag profile '", p, "'",
          known_profiles.empty() ? std::string()
                                 : absl::StrCat(" (they have: ",
                                                absl::StrJoin(known_profiles, ", "), ")")));
    }
  }
  for (const vmm::TopologyPreset& preset : vmm::AllPresets()) {
    if (over_cap.contains(std::string(preset.name))) plan.over_cap.emplace_back(preset.name);
  }
  return plan;
}

std::string FormatPlan(const GauntletPlan& plan, const std::vector<GauntletBinary>& binaries,
                       const GauntletSelection& sel) {
  std::string out;
  // Per test: presets and profiles that survived.
  struct Counts {
    std::set<std::string> presets, profiles;
    size_t variants = 0;
  };
  std::vector<std::pair<std::string, Counts>> per_test;
  std::map<const ktstr::v1::ListedTest*, size_t> index;
  for (const GauntletVariant& v : plan.variants) {
    auto [it, fresh] = index.emplace(v.test, per_test.size());
    if (fresh) per_test.push_back({absl::StrCat(Basename(binaries[v.binary].path), " ",
                                                v.test->name()), {}});
    Counts& c = per_test[it->second].second;
    c.presets.insert(v.preset);
    c.profiles.insert(v.profile_name());
    ++c.variants;
  }
  const size_t kernels = std::max<size_t>(1, plan.kernels.size());
  absl::StrAppend(&out, "gauntlet: ", plan.variants.size(), " variants from ",
                  plan.tests_selected, " tests (", kernels, " kernel",
                  kernels == 1 ? "" : "s", ": ",
                  plan.kernels.empty() ? "the daemon's default" : absl::StrJoin(plan.kernels, ", "),
                  ")\n");
  for (const auto& [name, c] : per_test) {
    absl::StrAppend(&out, absl::StrFormat("  %s: %u presets x %u profiles x %u kernels = %u\n",
                                          name, c.presets.size(), c.profiles.size(), kernels,
                                          c.variants));
  }
  for (const GauntletVariant& v : plan.variants) {
    vmm::Topology t{static_cast<int>(v.topology.numa_nodes()), static_cast<int>(v.topology.llcs()),
                    static_cast<int>(v.topology.cores_per_llc()),
                    static_cast<int>(v.topology.threads_per_core())};
    absl::StrAppend(&out, absl::StrFormat("    %-60s %-10s %3d vCPUs\n",
                                          v.Name(plan.several_kernels), t.ToString(),
                                          t.TotalCpus()));
  }
  if (!plan.over_cap.empty()) {
    std::vector<std::string> shown;
    for (const std::string& p : plan.over_cap) {
      shown.push_back(absl::StrCat(p, " (", vmm::FindPreset(p)->TotalCpus(), ")"));
    }
    absl::StrAppend(&out, "skipped over the ", sel.max_vcpus, "-vCPU cap: ", plan.over_cap.size(),
                    " presets, ", plan.over_cap_variants, " variants: ",
                    absl::StrJoin(shown, ", "), "\n");
  }
  if (!plan.constraint_skips.empty()) {
    absl::StrAppend(&out, "skipped by the tests' gauntlet constraints: ",
                    plan.constraint_skips.size(), " test x preset pairs\n");
    for (const GauntletSkip& s : plan.constraint_skips) {
      absl::StrAppend(&out, absl::StrFormat("    %-24s %-20s %s\n", s.test, s.preset, s.reason));
    }
  }
  if (!plan.host_only.empty()) {
    absl::StrAppend(&out, "host-only tests (never expanded): ", absl::StrJoin(plan.host_only, ", "),
                    "\n");
  }
  return out;
}

}  // namespace ktstr::client
