#include "guest_agent/testlib/topology.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ktstr {
namespace {

bool ReadFirstLine(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::getline(in, *out);
  return true;
}

CpuSet Normalize(CpuSet s) {
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
  return s;
}

}  // namespace

absl::StatusOr<CpuSet> ParseCpuList(absl::string_view text) {
  CpuSet out;
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return out;
  for (absl::string_view tok : absl::StrSplit(text, ',')) {
    tok = absl::StripAsciiWhitespace(tok);
    std::vector<absl::string_view> ends = absl::StrSplit(tok, absl::MaxSplits('-', 1));
    int lo = 0, hi = 0;
    if (!absl::SimpleAtoi(ends[0], &lo) || lo < 0 ||
        (ends.size() == 2 && (!absl::SimpleAtoi(ends[1], &hi) || hi < lo))) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad cpu list token '", tok, "' in '", text, "'"));
    }
    if (ends.size() == 1) hi = lo;
    if (hi > 65535) return absl::InvalidArgumentError(absl::StrCat("cpu id too large: ", tok));
    for (int c = lo; c <= hi; ++c) out.push_back(c);
  }
  return Normalize(std::move(out));
}

std::string FormatCpuList(const CpuSet& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? absl::StrCat(cpus[i]) : absl::StrCat(cpus[i], "-", cpus[j]);
    i = j + 1;
  }
  return out;
}

CpuSet CpuUnion(const CpuSet& a, const CpuSet& b) {
  CpuSet out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

CpuSet CpuIntersect(const CpuSet& a, const CpuSet& b) {
  CpuSet out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

bool CpuSubset(const CpuSet& a, const CpuSet& b) {
  return std::includes(b.begin(), b.end(), a.begin(), a.end());
}

absl::StatusOr<TestTopology> TestTopology::FromSysfs(absl::string_view sysfs_root) {
  const std::string root(sysfs_root);
  std::string line;
  if (!ReadFirstLine(root + "/devices/system/cpu/online", &line)) {
    return absl::UnavailableError(absl::StrCat("cannot read ", root, "/devices/system/cpu/online"));
  }
  absl::StatusOr<CpuSet> online = ParseCpuList(line);
  if (!online.ok()) return online.status();
  // Only CPUs this process may run on (a bare-metal run inside a restricted cpuset).
  cpu_set_t mask;
  CPU_ZERO(&mask);
  CpuSet allowed = *online;
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) {
    CpuSet aff;
    for (int c : *online) {
      if (c < CPU_SETSIZE && CPU_ISSET(c, &mask)) aff.push_back(c);
    }
    allowed = aff;
  }
  if (allowed.empty()) return absl::UnavailableError("no online CPU is in this process's affinity");

  // NUMA node of each CPU.
  std::map<int, int> node_of;
  for (int n = 0; n < 1024; ++n) {
    if (!ReadFirstLine(absl::StrCat(root, "/devices/system/node/node", n, "/cpulist"), &line)) {
      if (n > 64) break;
      continue;
    }
    absl::StatusOr<CpuSet> cpus = ParseCpuList(line);
    if (cpus.ok())
      for (int c : *cpus) node_of[c] = n;
  }
  TestTopology topo;
  std::map<std::string, int> llc_ids;   // shared_cpu_list text -> llc index
  std::map<std::string, int> core_ids;  // thread_siblings_list text -> core index
  for (int c : allowed) {
    CpuInfo info;
    info.cpu = c;
    info.node = node_of.count(c) ? node_of[c] : 0;
    // The last-level cache is the highest-numbered cache index with a shared_cpu_list.
    std::string llc_key = absl::StrCat("cpu", c);
    for (int idx = 7; idx >= 0; --idx) {
      if (ReadFirstLine(absl::StrFormat("%s/devices/system/cpu/cpu%d/cache/index%d/shared_cpu_list",
                                        root, c, idx),
                        &line)) {
        llc_key = line;
        break;
      }
    }
    auto [it, inserted] = llc_ids.emplace(llc_key, static_cast<int>(llc_ids.size()));
    info.llc = it->second;
    std::string core_key = absl::StrCat("cpu", c);
    if (ReadFirstLine(
            absl::StrFormat("%s/devices/system/cpu/cpu%d/topology/thread_siblings_list", root, c),
            &line)) {
      core_key = line;
      absl::StatusOr<CpuSet> sib = ParseCpuList(line);
      if (sib.ok() && sib->size() > 1) topo.has_smt_ = true;
    }
    auto [cit, cins] = core_ids.emplace(core_key, static_cast<int>(core_ids.size()));
    info.core = cit->second;
    topo.cpus_.push_back(info);
  }
  topo.Index();
  return topo;
}

TestTopology TestTopology::FromSpec(int numa_nodes, int llcs, int cores_per_llc, int threads) {
  TestTopology topo;
  const int llcs_per_node = std::max(1, llcs / std::max(1, numa_nodes));
  int cpu = 0;
  for (int l = 0; l < llcs; ++l) {
    for (int c = 0; c < cores_per_llc; ++c) {
      for (int t = 0; t < threads; ++t) {
        topo.cpus_.push_back({cpu++, l, l / llcs_per_node, l * cores_per_llc + c});
      }
    }
  }
  topo.has_smt_ = threads > 1;
  topo.Index();
  return topo;
}

void TestTopology::Index() {
  std::sort(cpus_.begin(), cpus_.end(),
            [](const CpuInfo& a, const CpuInfo& b) { return a.cpu < b.cpu; });
  llc_cpus_.clear();
  std::map<int, int> dense_node;
  for (const CpuInfo& info : cpus_) dense_node.emplace(info.node, 0);
  int i = 0;
  for (auto& [node, idx] : dense_node) idx = i++;
  node_cpus_.assign(dense_node.size(), {});
  for (const CpuInfo& info : cpus_) {
    if (info.llc >= static_cast<int>(llc_cpus_.size())) llc_cpus_.resize(info.llc + 1);
    llc_cpus_[info.llc].push_back(info.cpu);
    node_cpus_[dense_node[info.node]].push_back(info.cpu);
  }
}

CpuSet TestTopology::all_cpus() const {
  CpuSet out;
  for (const CpuInfo& info : cpus_) out.push_back(info.cpu);
  return out;
}

CpuSet TestTopology::usable_cpus() const {
  CpuSet all = all_cpus();
  if (all.size() > 2) all.pop_back();
  return all;
}

CpuSet TestTopology::llc_aligned_cpuset(int llc) const {
  if (llc < 0 || llc >= num_llcs()) return {};
  return CpuIntersect(llc_cpus_[llc], usable_cpus());
}

CpuSet TestTopology::numa_aligned_cpuset(int node) const {
  if (node < 0 || node >= num_numa_nodes()) return {};
  return CpuIntersect(node_cpus_[node], usable_cpus());
}

std::vector<CpuSet> TestTopology::split_by_llc() const {
  std::vector<CpuSet> out;
  for (int l = 0; l < num_llcs(); ++l) {
    CpuSet s = llc_aligned_cpuset(l);
    if (!s.empty()) out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<CpuSet>> TestTopology::overlapping_cpusets(int n, double frac) const {
  CpuSet usable = usable_cpus();
  const int total = static_cast<int>(usable.size());
  if (n <= 0) return absl::InvalidArgumentError("partition count must be > 0");
  if (total < n) {
    return absl::InvalidArgumentError(
        absl::StrFormat("not enough usable CPUs (%d) for %d partitions", total, n));
  }
  if (!(frac >= 0.0 && frac <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("overlap fraction ", frac, " not in [0,1]"));
  }
  const int chunk = total / n;
  const int extra = static_cast<int>(std::ceil(chunk * frac));
  std::vector<CpuSet> out;
  for (int i = 0; i < n; ++i) {
    const int begin = i * chunk;
    const int end = std::min(total, (i == n - 1 ? total : begin + chunk) + extra);
    out.emplace_back(usable.begin() + begin, usable.begin() + end);
  }
  return out;
}

int TestTopology::llc_of(int cpu) const {
  for (const CpuInfo& info : cpus_)
    if (info.cpu == cpu) return info.llc;
  return -1;
}

int TestTopology::node_of(int cpu) const {
  for (const CpuInfo& info : cpus_)
    if (info.cpu == cpu) return info.node;
  return -1;
}

std::string TestTopology::DebugString() const {
  std::set<int> cores;
  for (const CpuInfo& info : cpus_) cores.insert(info.core);
  const int threads = cores.empty() ? 1 : num_cpus() / static_cast<int>(cores.size());
  const int cores_per_llc = num_llcs() ? static_cast<int>(cores.size()) / num_llcs() : 0;
  return absl::StrFormat("%dn%dl%dc%dt cpus=%s", num_numa_nodes(), num_llcs(), cores_per_llc,
                         threads, FormatCpuList(all_cpus()));
}

}  // namespace ktstr
