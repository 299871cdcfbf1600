#include "guest_agent/testlib/ops.h"

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ktstr {

absl::StatusOr<CpuSet> CpusetSpec::Resolve(const TestTopology& topo) const {
  const CpuSet usable = topo.usable_cpus();
  const int n = static_cast<int>(usable.size());
  CpuSet out;
  switch (kind) {
    case Kind::kLlc:
      out = topo.llc_aligned_cpuset(index);
      if (out.empty()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "LLC %d has no usable CPUs (topology has %d LLCs)", index, topo.num_llcs()));
      }
      return out;
    case Kind::kNuma:
      out = topo.numa_aligned_cpuset(index);
      if (out.empty()) {
        return absl::InvalidArgumentError(
            absl::StrFormat("NUMA node %d has no usable CPUs (topology has %d nodes)", index,
                            topo.num_numa_nodes()));
      }
      return out;
    case Kind::kRange: {
      if (!(start_frac >= 0 && start_frac < end_frac && end_frac <= 1)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "cpuset range [%g, %g) is not within [0, 1] with start < end", start_frac, end_frac));
      }
      const int begin = static_cast<int>(std::floor(start_frac * n));
      const int end = std::max(begin + 1, static_cast<int>(std::floor(end_frac * n)));
      if (begin >= n) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "cpuset range [%g, %g) of %d usable CPUs is empty", start_frac, end_frac, n));
      }
      return CpuSet(usable.begin() + begin, usable.begin() + std::min(end, n));
    }
    case Kind::kDisjoint: {
      if (of <= 0 || index < 0 || index >= of) {
        return absl::InvalidArgumentError(
            absl::StrFormat("disjoint partition %d of %d is out of range", index, of));
      }
      if (n < of) {
        return absl::InvalidArgumentError(
            absl::StrFormat("not enough usable CPUs (%d) for %d partitions", n, of));
      }
      const int chunk = n / of, begin = index * chunk;
      const int end = index == of - 1 ? n : begin + chunk;
      return CpuSet(usable.begin() + begin, usable.begin() + end);
    }
    case Kind::kOverlap: {
      if (index < 0 || index >= of) {
        return absl::InvalidArgumentError(
            absl::StrFormat("overlap partition %d of %d is out of range", index, of));
      }
      absl::StatusOr<std::vector<CpuSet>> parts = topo.overlapping_cpusets(of, frac);
      if (!parts.ok()) return parts.status();
      return (*parts)[index];
    }
    case Kind::kExact: {
      if (cpus.empty()) return absl::InvalidArgumentError("exact cpuset is empty");
      const CpuSet all = topo.all_cpus();
      if (!CpuSubset(cpus, all)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("exact cpuset %s is not within the topology's CPUs %s",
                            FormatCpuList(cpus), FormatCpuList(all)));
      }
      return cpus;
    }
  }
  return absl::InternalError("unknown cpuset spec");
}

std::string CpusetSpec::ToString() const {
  switch (kind) {
    case Kind::kLlc:
      return absl::StrCat("Llc(", index, ")");
    case Kind::kNuma:
      return absl::StrCat("Numa(", index, ")");
    case Kind::kRange:
      return absl::StrFormat("Range(%g, %g)", start_frac, end_frac);
    case Kind::kDisjoint:
      return absl::StrFormat("Disjoint(%d of %d)", index, of);
    case Kind::kOverlap:
      return absl::StrFormat("Overlap(%d of %d, %g)", index, of, frac);
    case Kind::kExact:
      return absl::StrCat("Exact(", FormatCpuList(cpus), ")");
  }
  return "?";
}

std::vector<CpuSet> ResolveAffinity(const AffinityKind& a, const TestTopology& topo,
                                    const CpuSet& cgroup_cpus, int workers, uint64_t seed) {
  const CpuSet base = cgroup_cpus.empty() ? topo.usable_cpus() : cgroup_cpus;
  std::vector<CpuSet> out(workers);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < workers; ++i) {
    switch (a.kind) {
      case AffinityKind::Kind::kInherit:
        break;
      case AffinityKind::Kind::kRandomSubset: {
        CpuSet pool = base;
        std::shuffle(pool.begin(), pool.end(), rng);
        pool.resize(std::max<size_t>(1, pool.size() / 2));
        std::sort(pool.begin(), pool.end());
        out[i] = pool;
        break;
      }
      case AffinityKind::Kind::kLlcAligned: {
        const int llc = topo.llc_of(base[i % base.size()]);
        out[i] = CpuIntersect(topo.llc_aligned_cpuset(llc), base);
        if (out[i].empty()) out[i] = base;
        break;
      }
      case AffinityKind::Kind::kCrossCgroup:
        out[i] = topo.all_cpus();
        break;
      case AffinityKind::Kind::kSingleCpu:
        out[i] = {base[i % base.size()]};
        break;
      case AffinityKind::Kind::kExact:
        out[i] = a.cpus;
        break;
    }
  }
  return out;
}

CgroupDef CgroupDef::named(std::string name) {
  CgroupDef d;
  d.name_ = std::move(name);
  return d;
}
CgroupDef& CgroupDef::with_cpuset(CpusetSpec spec) {
  cpuset_ = std::move(spec);
  return *this;
}
CgroupDef& CgroupDef::workers(int n) {
  primary_.workers = n;
  primary_shaped_ = true;
  return *this;
}
CgroupDef& CgroupDef::work_type(WorkType w) {
  primary_.work_type = std::move(w);
  primary_shaped_ = true;
  return *this;
}
CgroupDef& CgroupDef::sched_policy(SchedPolicy p) {
  primary_.sched_policy = p;
  primary_shaped_ = true;
  return *this;
}
CgroupDef& CgroupDef::affinity(AffinityKind a) {
  primary_.affinity = std::move(a);
  primary_shaped_ = true;
  return *this;
}
CgroupDef& CgroupDef::mem_policy(MemPolicy m) {
  const uint32_t flags = primary_.mem_policy.flags;
  primary_.mem_policy = std::move(m);
  primary_.mem_policy.flags |= flags;
  primary_shaped_ = true;
  return *this;
}
CgroupDef& CgroupDef::mpol_flags(uint32_t flags) {
  primary_.mem_policy.flags = flags;
  primary_shaped_ = true;
  return *this;
}
CgroupDef& CgroupDef::work(Work w) {
  extra_.push_back(std::move(w));
  return *this;
}

std::vector<Work> CgroupDef::works() const {
  std::vector<Work> out;
  if (primary_shaped_ || extra_.empty()) out.push_back(primary_);
  out.insert(out.end(), extra_.begin(), extra_.end());
  return out;
}

const char* OpName(const Op& op) {
  static constexpr const char* kNames[kNumOpKinds] = {
      "AddCgroup",  "RemoveCgroup", "SetCpuset",   "ClearCpuset", "SwapCpusets",
      "Spawn",      "StopCgroup",   "SetAffinity", "SpawnHost",   "MoveAllTasks",
      "RunPayload", "WaitPayload",  "KillPayload"};
  return kNames[op.index()];
}

absl::Status HoldSpec::Validate() const {
  switch (kind) {
    case Kind::kFrac:
      if (!std::isfinite(frac) || frac <= 0) {
        return absl::InvalidArgumentError(absl::StrCat("hold fraction ", frac, " must be > 0"));
      }
      return absl::OkStatus();
    case Kind::kFixed:
      if (fixed.count() <= 0) return absl::InvalidArgumentError("fixed hold must be > 0 ms");
      return absl::OkStatus();
    case Kind::kLoop:
      if (interval.count() <= 0) return absl::InvalidArgumentError("loop interval must be > 0 ms");
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace ktstr
