#include "guest_agent/guest_info.h"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"

namespace ktstr::agent {
namespace {

uint32_t ReadU32Or(const std::string& path, uint32_t fallback) {
  auto s = ReadTrimmed(path);
  int64_t v;
  if (!s.ok() || !absl::SimpleAtoi(*s, &v) || v < 0) return fallback;
  return static_cast<uint32_t>(v);
}

// The cache index directory describing the last-level cache of `cpu_dir`: level 3 when it
// exists, else the highest level found.
std::string LlcSharedList(const std::string& cpu_dir) {
  int best_level = -1;
  std::string best;
  for (int i = 0; i < 16; ++i) {
    std::string idx = absl::StrCat(cpu_dir, "/cache/index", i);
    auto level = ReadTrimmed(idx + "/level");
    if (!level.ok()) continue;
    auto type = ReadTrimmed(idx + "/type");
    if (type.ok() && *type == "Instruction") continue;
    int lv;
    if (!absl::SimpleAtoi(*level, &lv) || lv <= best_level) continue;
    auto shared = ReadTrimmed(idx + "/shared_cpu_list");
    if (!shared.ok()) continue;
    best_level = lv;
    best = *shared;
  }
  return best;
}

}  // namespace

absl::StatusOr<std::string> ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return std::string(absl::StripTrailingAsciiWhitespace(ss.str()));
}

absl::StatusOr<std::vector<int>> ParseCpuList(absl::string_view list) {
  std::vector<int> out;
  list = absl::StripAsciiWhitespace(list);
  if (list.empty()) return out;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    std::vector<absl::string_view> ends = absl::StrSplit(part, '-');
    int lo, hi;
    if (ends.size() == 1 && absl::SimpleAtoi(ends[0], &lo)) {
      hi = lo;
    } else if (ends.size() != 2 || !absl::SimpleAtoi(ends[0], &lo) || !absl::SimpleAtoi(ends[1], &hi)) {
      return absl::InvalidArgumentError(absl::StrCat("bad cpu list: ", list));
    }
    if (lo < 0 || hi < lo || hi > 65535)
      return absl::InvalidArgumentError(absl::StrCat("bad cpu range in: ", list));
    for (int c = lo; c <= hi; ++c) out.push_back(c);
  }
  return out;
}

absl::StatusOr<v1::GuestTopology> ReadGuestTopology(const std::string& sys_root,
                                                    const std::string& proc_root) {
  const std::string cpu_root = sys_root + "/devices/system/cpu";
  const std::string node_root = sys_root + "/devices/system/node";
  auto online_s = ReadTrimmed(cpu_root + "/online");
  if (!online_s.ok()) return online_s.status();
  auto online = ParseCpuList(*online_s);
  if (!online.ok()) return online.status();

  // cpu -> node from the node directories (the kernel without NUMA has only node0 or none).
  std::map<int, uint32_t> node_of;
  std::vector<std::pair<int, std::string>> nodes;
  for (int n = 0; n < 1024; ++n) {
    auto list = ReadTrimmed(absl::StrCat(node_root, "/node", n, "/cpulist"));
    if (!list.ok()) {
      if (n > 64) break;
      continue;
    }
    auto cpus = ParseCpuList(*list);
    if (!cpus.ok()) return cpus.status();
    if (cpus->empty()) continue;  // memory-only node
    nodes.emplace_back(n, *list);
    for (int c : *cpus) node_of[c] = static_cast<uint32_t>(n);
  }

  v1::GuestTopology topo;
  topo.set_cpus(static_cast<uint32_t>(online->size()));
  std::set<uint32_t> llc_ids;
  std::set<std::pair<uint32_t, std::string>> cores;  // (llc, thread_siblings)
  for (int cpu : *online) {
    const std::string dir = absl::StrCat(cpu_root, "/cpu", cpu);
    v1::CpuInfo* ci = topo.add_cpu();
    ci->set_cpu(static_cast<uint32_t>(cpu));
    ci->set_package_id(ReadU32Or(dir + "/topology/physical_package_id", 0));
    ci->set_die_id(ReadU32Or(dir + "/topology/die_id", 0));
    ci->set_core_id(ReadU32Or(dir + "/topology/core_id", 0));
    ci->set_node(node_of.count(cpu) ? node_of[cpu] : 0);
    auto sib = ReadTrimmed(dir + "/topology/thread_siblings_list");
    ci->set_thread_siblings(sib.ok() ? *sib : absl::StrCat(cpu));
    std::string llc = LlcSharedList(dir);
    if (llc.empty()) llc = absl::StrCat(cpu);  // no cache info: each CPU its own LLC
    ci->set_llc_shared(llc);
    auto llc_cpus = ParseCpuList(llc);
    ci->set_llc_id(llc_cpus.ok() && !llc_cpus->empty() ? static_cast<uint32_t>((*llc_cpus)[0])
                                                       : static_cast<uint32_t>(cpu));
    llc_ids.insert(ci->llc_id());
    cores.emplace(ci->llc_id(), ci->thread_siblings());
  }
  for (const auto& [n, list] : nodes) topo.add_node_cpus(list);
  topo.set_numa_nodes(nodes.empty() ? 1 : static_cast<uint32_t>(nodes.size()));
  topo.set_llcs(static_cast<uint32_t>(llc_ids.size()));
  if (!cores.empty() && !llc_ids.empty()) {
    topo.set_cores_per_llc(static_cast<uint32_t>(cores.size() / llc_ids.size()));
    topo.set_threads_per_core(static_cast<uint32_t>(online->size() / cores.size()));
  }

  std::ifstream meminfo(proc_root + "/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (!absl::StartsWith(line, "MemTotal:")) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t kb;
    if (f.size() >= 2 && absl::SimpleAtoi(f[1], &kb)) topo.set_memory_kb(kb);
  }
  return topo;
}

SchedExtStatus ReadSchedExt(const std::string& sys_root) {
  SchedExtStatus st;
  auto state = ReadTrimmed(sys_root + "/kernel/sched_ext/state");
  if (!state.ok()) return st;  // ABSENT
  static const std::map<std::string, v1::SchedExtState> kStates = {
      {"disabled", v1::SCHED_EXT_STATE_DISABLED},
      {"enabling", v1::SCHED_EXT_STATE_ENABLING},
      {"enabled", v1::SCHED_EXT_STATE_ENABLED},
      {"disabling", v1::SCHED_EXT_STATE_DISABLING},
  };
  auto it = kStates.find(*state);
  st.state = it == kStates.end() ? v1::SCHED_EXT_STATE_UNSPECIFIED : it->second;
  if (st.state == v1::SCHED_EXT_STATE_ENABLED) {
    auto ops = ReadTrimmed(sys_root + "/kernel/sched_ext/root/ops");
    if (ops.ok()) st.ops = *ops;
  }
  return st;
}

}  // namespace ktstr::agent
