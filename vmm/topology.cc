#include "vmm/topology.h"

#include <cctype>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ktstr::vmm {
namespace {

// Parses "1n2l4c1t": four positive integers, each followed by its unit letter, in order.
absl::StatusOr<Topology> ParseCompactForm(absl::string_view text) {
  static constexpr char kUnits[] = {'n', 'l', 'c', 't'};
  int values[4] = {0, 0, 0, 0};
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
    if (pos == start || pos >= text.size() || text[pos] != kUnits[i]) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "topology \"%s\": expected <N>n<N>l<N>c<N>t (e.g. 1n2l4c1t); missing the number "
          "before '%c'",
          text, kUnits[i]));
    }
    if (pos - start > 4 || !absl::SimpleAtoi(text.substr(start, pos - start), &values[i])) {
      return absl::InvalidArgumentError(
          absl::StrFormat("topology \"%s\": number before '%c' is too large", text, kUnits[i]));
    }
    ++pos;
  }
  if (pos != text.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "topology \"%s\": unexpected trailing text \"%s\"", text, text.substr(pos)));
  }
  return Topology{values[0], values[1], values[2], values[3]};
}

// Parses "1,2,4,1".
absl::StatusOr<Topology> ParseShellForm(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ',');
  if (parts.size() != 4) {
    return absl::InvalidArgumentError(
        absl::StrFormat("topology \"%s\": the shell form needs 4 comma-separated numbers "
                        "(numa_nodes,llcs,cores_per_llc,threads_per_core), got %d",
                        text, parts.size()));
  }
  int values[4];
  for (int i = 0; i < 4; ++i) {
    absl::string_view p = parts[i];
    bool digits = !p.empty() && p.size() <= 4;
    for (char c : p) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (!digits || !absl::SimpleAtoi(p, &values[i])) {
      return absl::InvalidArgumentError(
          absl::StrFormat("topology \"%s\": \"%s\" is not a small non-negative number", text, p));
    }
  }
  return Topology{values[0], values[1], values[2], values[3]};
}

}  // namespace

std::string Topology::ToString() const {
  return absl::StrFormat("%dn%dl%dc%dt", numa_nodes, llcs, cores_per_llc, threads_per_core);
}

std::string Topology::ToShellForm() const {
  return absl::StrFormat("%d,%d,%d,%d", numa_nodes, llcs, cores_per_llc, threads_per_core);
}

absl::Status Topology::Validate() const {
  const std::string name = ToString();
  if (numa_nodes <= 0 || llcs <= 0 || cores_per_llc <= 0 || threads_per_core <= 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "topology %s: numa_nodes, llcs, cores_per_llc and threads_per_core must all be at "
        "least 1",
        name));
  }
  if (llcs % numa_nodes != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "topology %s: llcs (%d) must be a multiple of numa_nodes (%d); every node gets the "
        "same number of LLCs",
        name, llcs, numa_nodes));
  }
  // Multiply in 64 bits: four 4-digit factors would overflow int.
  const long long cpus = 1LL * llcs * cores_per_llc * threads_per_core;
  if (cpus > config::kMaxCpus) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "topology %s: %d CPUs is more than the maximum of %d", name, cpus, config::kMaxCpus));
  }
  return absl::OkStatus();
}

absl::StatusOr<Topology> ParseTopology(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("topology: empty string");
  absl::StatusOr<Topology> parsed =
      text.find(',') != absl::string_view::npos ? ParseShellForm(text) : ParseCompactForm(text);
  if (!parsed.ok()) return parsed.status();
  if (absl::Status s = parsed->Validate(); !s.ok()) return s;
  return parsed;
}

absl::Status ValidateMemory(const Topology& topology, int memory_mb) {
  if (memory_mb < config::kMinMemoryMb) {
    return absl::InvalidArgumentError(
        absl::StrFormat("memory %d MiB is too small: the guest needs at least %d MiB", memory_mb,
                        config::kMinMemoryMb));
  }
  if (memory_mb < topology.numa_nodes * config::kMinMemoryMbPerNode) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "memory %d MiB is too small for %d NUMA nodes: each node needs at least %d MiB", memory_mb,
        topology.numa_nodes, config::kMinMemoryMbPerNode));
  }
  if (memory_mb % topology.numa_nodes != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "memory %d MiB does not split evenly over %d NUMA nodes", memory_mb, topology.numa_nodes));
  }
  return absl::OkStatus();
}

std::string FormatCpuList(const std::vector<int>& cpus) {
  std::vector<std::string> ranges;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    ranges.push_back(j == i ? absl::StrCat(cpus[i]) : absl::StrCat(cpus[i], "-", cpus[j]));
    i = j + 1;
  }
  return absl::StrJoin(ranges, ",");
}

namespace {
std::vector<int> Range(int first, int count) {
  std::vector<int> v;
  for (int i = 0; i < count; ++i) v.push_back(first + i);
  return v;
}
}  // namespace

std::vector<ExpectedCpu> ExpectedGuestCpus(const Topology& t) {
  std::vector<ExpectedCpu> out;
  for (int cpu = 0; cpu < t.TotalCpus(); ++cpu) {
    const int llc = cpu / t.CpusPerLlc();
    const int core_first = cpu - cpu % t.threads_per_core;
    out.push_back(ExpectedCpu{
        .node = cpu / t.CpusPerNode(),
        .llc_cpus = FormatCpuList(Range(llc * t.CpusPerLlc(), t.CpusPerLlc())),
        .thread_siblings = FormatCpuList(Range(core_first, t.threads_per_core)),
    });
  }
  return out;
}

std::vector<std::string> ExpectedNodeCpuLists(const Topology& t) {
  std::vector<std::string> out;
  for (int node = 0; node < t.numa_nodes; ++node) {
    out.push_back(FormatCpuList(Range(node * t.CpusPerNode(), t.CpusPerNode())));
  }
  return out;
}

}  // namespace ktstr::vmm
