#include "guest_agent/testlib/work_types.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ktstr {
namespace {

constexpr const char* kNames[kNumWorkKinds] = {
    "CpuSpin",     "YieldHeavy",    "Mixed",          "IoSync",          "Bursty",
    "PipeIo",      "FutexPingPong", "FutexFanOut",    "CachePressure",   "CacheYield",
    "CachePipe",   "Sequence",      "ForkExit",       "NiceSweep",       "AffinityChurn",
    "PolicyChurn", "FanOutCompute", "PageFaultChurn", "MutexContention", "Custom",
};

}  // namespace

WorkType WorkType::bursty(std::chrono::milliseconds burst, std::chrono::milliseconds sleep) {
  WorkType w = Of(WorkKind::kBursty);
  w.burst = burst;
  w.sleep = sleep;
  return w;
}
WorkType WorkType::pipe_io(uint32_t burst_iters) {
  WorkType w = Of(WorkKind::kPipeIo);
  w.spin_iters = burst_iters;
  return w;
}
WorkType WorkType::futex_ping_pong(uint32_t spin_iters) {
  WorkType w = Of(WorkKind::kFutexPingPong);
  w.spin_iters = spin_iters;
  return w;
}
WorkType WorkType::futex_fan_out(uint32_t fan_out, uint32_t spin_iters) {
  WorkType w = Of(WorkKind::kFutexFanOut);
  w.fan_out = fan_out;
  w.spin_iters = spin_iters;
  return w;
}
WorkType WorkType::cache_pressure(uint32_t size_kb, uint32_t stride) {
  WorkType w = Of(WorkKind::kCachePressure);
  w.size_kb = size_kb;
  w.stride = stride;
  return w;
}
WorkType WorkType::cache_yield(uint32_t size_kb, uint32_t stride) {
  WorkType w = cache_pressure(size_kb, stride);
  w.kind = WorkKind::kCacheYield;
  return w;
}
WorkType WorkType::cache_pipe(uint32_t size_kb, uint32_t burst_iters) {
  WorkType w = Of(WorkKind::kCachePipe);
  w.size_kb = size_kb;
  w.spin_iters = burst_iters;
  return w;
}
WorkType WorkType::sequence(Phase first, std::vector<Phase> rest) {
  WorkType w = Of(WorkKind::kSequence);
  w.phases.push_back(first);
  w.phases.insert(w.phases.end(), rest.begin(), rest.end());
  return w;
}
WorkType WorkType::affinity_churn(uint32_t spin_iters) {
  WorkType w = Of(WorkKind::kAffinityChurn);
  w.spin_iters = spin_iters;
  return w;
}
WorkType WorkType::policy_churn(uint32_t spin_iters) {
  WorkType w = Of(WorkKind::kPolicyChurn);
  w.spin_iters = spin_iters;
  return w;
}
WorkType WorkType::fan_out_compute(uint32_t fan_out, uint32_t cache_footprint_kb,
                                   uint32_t operations, uint32_t sleep_usec) {
  WorkType w = Of(WorkKind::kFanOutCompute);
  w.fan_out = fan_out;
  w.cache_footprint_kb = cache_footprint_kb;
  w.operations = operations;
  w.sleep_usec = sleep_usec;
  return w;
}
WorkType WorkType::page_fault_churn(uint32_t region_kb, uint32_t touches_per_cycle,
                                    uint32_t spin_iters) {
  WorkType w = Of(WorkKind::kPageFaultChurn);
  w.region_kb = region_kb;
  w.touches_per_cycle = touches_per_cycle;
  w.spin_iters = spin_iters;
  return w;
}
WorkType WorkType::mutex_contention(uint32_t contenders, uint32_t hold_iters, uint32_t work_iters) {
  WorkType w = Of(WorkKind::kMutexContention);
  w.contenders = contenders;
  w.hold_iters = hold_iters;
  w.spin_iters = work_iters;
  return w;
}
WorkType WorkType::custom_fn(std::string name, CustomWorkFn fn) {
  WorkType w = Of(WorkKind::kCustom);
  w.custom_name = std::move(name);
  w.custom = fn;
  return w;
}

absl::StatusOr<WorkType> WorkType::FromName(absl::string_view name) {
  for (int i = 0; i < kNumWorkKinds; ++i) {
    if (name != kNames[i]) continue;
    const auto kind = static_cast<WorkKind>(i);
    if (kind == WorkKind::kSequence || kind == WorkKind::kCustom) break;
    WorkType w = Of(kind);
    if (kind == WorkKind::kPageFaultChurn) w.spin_iters = 64;
    return w;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown work type '", name,
                   "' (Sequence and Custom need parameters; names are "
                   "PascalCase, e.g. CpuSpin, Bursty, PipeIo)"));
}

std::vector<std::string> WorkType::AllNames() {
  return std::vector<std::string>(kNames, kNames + kNumWorkKinds);
}

std::string WorkType::name() const {
  if (kind == WorkKind::kCustom && !custom_name.empty()) return custom_name;
  return kNames[static_cast<int>(kind)];
}

int WorkType::group_size() const {
  switch (kind) {
    case WorkKind::kPipeIo:
    case WorkKind::kFutexPingPong:
    case WorkKind::kCachePipe:
      return 2;
    case WorkKind::kFutexFanOut:
    case WorkKind::kFanOutCompute:
      return static_cast<int>(fan_out) + 1;
    case WorkKind::kMutexContention:
      return static_cast<int>(contenders);
    default:
      return 1;
  }
}

absl::Status WorkType::Validate(int workers) const {
  if (workers <= 0) return absl::InvalidArgumentError("worker count must be > 0");
  if (kind == WorkKind::kBursty && (burst.count() <= 0 || sleep.count() < 0)) {
    return absl::InvalidArgumentError("Bursty needs burst > 0 ms and sleep >= 0 ms");
  }
  if ((kind == WorkKind::kFutexFanOut || kind == WorkKind::kFanOutCompute) && fan_out == 0) {
    return absl::InvalidArgumentError(absl::StrCat(name(), " needs fan_out >= 1"));
  }
  if (kind == WorkKind::kMutexContention && contenders < 2) {
    return absl::InvalidArgumentError("MutexContention needs contenders >= 2");
  }
  if ((kind == WorkKind::kCachePressure || kind == WorkKind::kCacheYield ||
       kind == WorkKind::kCachePipe) &&
      (size_kb == 0 || stride == 0)) {
    return absl::InvalidArgumentError(absl::StrCat(name(), " needs size_kb and stride > 0"));
  }
  if (kind == WorkKind::kPageFaultChurn && region_kb < 4) {
    return absl::InvalidArgumentError("PageFaultChurn needs region_kb >= 4");
  }
  if (kind == WorkKind::kSequence) {
    if (phases.empty()) return absl::InvalidArgumentError("Sequence needs at least one phase");
    for (const Phase& p : phases) {
      if (p.duration.count() <= 0) {
        return absl::InvalidArgumentError("Sequence phases need a duration > 0");
      }
    }
  }
  if (kind == WorkKind::kCustom && custom == nullptr) {
    return absl::InvalidArgumentError("Custom work type without a function");
  }
  if (workers % group_size() != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s needs a worker count divisible by %d (got %d)", name(), group_size(), workers));
  }
  return absl::OkStatus();
}

absl::Status SchedPolicy::Validate() const {
  if ((kind == Kind::kFifo || kind == Kind::kRoundRobin) && (priority < 1 || priority > 99)) {
    return absl::InvalidArgumentError(absl::StrCat("RT priority ", priority, " not in 1..99"));
  }
  return absl::OkStatus();
}

std::string SchedPolicy::ToString() const {
  switch (kind) {
    case Kind::kNormal:
      return "normal";
    case Kind::kBatch:
      return "batch";
    case Kind::kIdle:
      return "idle";
    case Kind::kFifo:
      return absl::StrCat("fifo(", priority, ")");
    case Kind::kRoundRobin:
      return absl::StrCat("rr(", priority, ")");
  }
  return "?";
}

absl::Status MemPolicy::Validate() const {
  switch (kind) {
    case Kind::kDefault:
    case Kind::kLocal:
      return absl::OkStatus();
    case Kind::kPreferred:
      if (nodes.size() != 1) return absl::InvalidArgumentError("Preferred takes exactly one node");
      break;
    default:
      if (nodes.empty()) return absl::InvalidArgumentError("memory policy needs a node set");
  }
  for (int n : nodes) {
    if (n < 0 || n >= 1024) return absl::InvalidArgumentError(absl::StrCat("bad NUMA node ", n));
  }
  return absl::OkStatus();
}

}  // namespace ktstr
