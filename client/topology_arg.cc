#include "client/topology_arg.h"

#include <regex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ktstr::client {

absl::StatusOr<ktstr::v1::Topology> ParseTopologyArg(const std::string& s) {
  static const std::regex kComma(R"(^(\d+),(\d+),(\d+),(\d+)$)");
  static const std::regex kCompact(R"(^(\d+)n(\d+)l(\d+)c(\d+)t$)");
  std::smatch m;
  if (!std::regex_match(s, m, kComma) && !std::regex_match(s, m, kCompact)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid topology '", s, "': use N,L,C,T (NUMA nodes, LLCs, cores per LLC, threads "
        "per core), e.g. 1,2,4,1 or 1n2l4c1t"));
  }
  uint32_t v[4];
  for (int i = 0; i < 4; ++i) {
    if (!absl::SimpleAtoi(m[i + 1].str(), &v[i]) || v[i] == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid topology '", s, "': every count must be at least 1"));
    }
  }
  ktstr::v1::Topology t;
  t.set_numa_nodes(v[0]);
  t.set_llcs(v[1]);
  t.set_cores_per_llc(v[2]);
  t.set_threads_per_core(v[3]);
  return t;
}

}  // namespace ktstr::client
