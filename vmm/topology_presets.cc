// The 24 x86_64 gauntlet presets (ktstr's `gauntlet_presets`), by name.
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "vmm/topology.h"

namespace ktstr::vmm {

const std::vector<TopologyPreset>& AllPresets() {
  static const std::vector<TopologyPreset>* const kPresets = new std::vector<TopologyPreset>{
      {"tiny-1llc", {1, 1, 4, 1}},         {"tiny-2llc", {1, 2, 2, 1}},
      {"odd-3llc", {1, 3, 3, 1}},          {"odd-5llc", {1, 5, 3, 1}},
      {"odd-7llc", {1, 7, 2, 1}},          {"smt-2llc", {1, 2, 2, 2}},
      {"smt-3llc", {1, 3, 2, 2}},          {"medium-4llc", {1, 4, 4, 2}},
      {"medium-8llc", {1, 8, 4, 2}},       {"large-4llc", {1, 4, 16, 2}},
      {"large-8llc", {1, 8, 8, 2}},        {"near-max-llc", {1, 15, 8, 2}},
      {"max-cpu", {1, 14, 9, 2}},          {"medium-4llc-nosmt", {1, 4, 8, 1}},
      {"medium-8llc-nosmt", {1, 8, 8, 1}}, {"large-4llc-nosmt", {1, 4, 32, 1}},
      {"large-8llc-nosmt", {1, 8, 16, 1}}, {"near-max-llc-nosmt", {1, 15, 16, 1}},
      {"max-cpu-nosmt", {1, 14, 18, 1}},   {"numa2-4llc", {2, 4, 4, 1}},
      {"numa2-8llc", {2, 8, 8, 2}},        {"numa2-8llc-nosmt", {2, 8, 16, 1}},
      {"numa4-8llc", {4, 8, 4, 1}},        {"numa4-12llc", {4, 12, 8, 2}},
  };
  return *kPresets;
}

absl::StatusOr<Topology> FindPreset(absl::string_view name) {
  std::vector<absl::string_view> names;
  for (const TopologyPreset& p : AllPresets()) {
    if (p.name == name) return p.topology;
    names.push_back(p.name);
  }
  return absl::NotFoundError(
      absl::StrCat("unknown topology preset \"", name, "\"; known: ", absl::StrJoin(names, ", ")));
}

}  // namespace ktstr::vmm
