// What a worker process does in its loop (ktstr's 20 work types, with its defaults), and the
// per-worker scheduling properties applied before the loop starts (policy, memory policy).
#ifndef KTSTR_GUEST_AGENT_TESTLIB_WORK_TYPES_H_
#define KTSTR_GUEST_AGENT_TESTLIB_WORK_TYPES_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ktstr {

class Telemetry;  // worker_telemetry.h

enum class WorkKind {
  kCpuSpin,
  kYieldHeavy,
  kMixed,
  kIoSync,
  kBursty,
  kPipeIo,
  kFutexPingPong,
  kFutexFanOut,
  kCachePressure,
  kCacheYield,
  kCachePipe,
  kSequence,
  kForkExit,
  kNiceSweep,
  kAffinityChurn,
  kPolicyChurn,
  kFanOutCompute,
  kPageFaultChurn,
  kMutexContention,
  kCustom,
};
inline constexpr int kNumWorkKinds = 20;

// One phase of a Sequence work type.
struct Phase {
  enum class Kind { kSpin, kSleep, kYield, kIo };
  Kind kind = Kind::kSpin;
  std::chrono::microseconds duration{0};
  static Phase Spin(std::chrono::microseconds d) { return {Kind::kSpin, d}; }
  static Phase Sleep(std::chrono::microseconds d) { return {Kind::kSleep, d}; }
  static Phase Yield(std::chrono::microseconds d) { return {Kind::kYield, d}; }
  static Phase Io(std::chrono::microseconds d) { return {Kind::kIo, d}; }
};

// A Custom work function owns the loop: it runs until `t.stop_requested()` and reports its
// progress through `t.AddWork()` (and `t.RecordWakeLatency()` if it blocks). Runs in the
// forked worker process.
using CustomWorkFn = void (*)(Telemetry& t);

// A work type with its parameters. Build with the factories; fields not used by a kind are
// ignored. Every default is ktstr's.
struct WorkType {
  WorkKind kind = WorkKind::kCpuSpin;
  std::chrono::milliseconds burst{50};   // Bursty: CPU burst
  std::chrono::milliseconds sleep{100};  // Bursty: sleep between bursts
  uint32_t spin_iters = 1024;            // spins per iteration (PipeIo/CachePipe: burst_iters)
  uint32_t size_kb = 32;                 // Cache*: buffer size
  uint32_t stride = 64;                  // Cache*: bytes between touches
  uint32_t fan_out = 4;                  // FutexFanOut/FanOutCompute: receivers per messenger
  uint32_t cache_footprint_kb = 256;     // FanOutCompute: matrix footprint
  uint32_t operations = 5;               // FanOutCompute: matrix multiplies per wake
  uint32_t sleep_usec = 100;             // FanOutCompute: sleep after each wake
  uint32_t region_kb = 4096;             // PageFaultChurn: region size
  uint32_t touches_per_cycle = 256;      // PageFaultChurn
  uint32_t contenders = 4;               // MutexContention: workers per mutex
  uint32_t hold_iters = 256;             // MutexContention: spins while holding
  std::vector<Phase> phases;             // Sequence (first phase then the rest, looped)
  std::string custom_name;               // Custom
  CustomWorkFn custom = nullptr;

  static WorkType cpu_spin() { return {}; }
  static WorkType yield_heavy() { return Of(WorkKind::kYieldHeavy); }
  static WorkType mixed() { return Of(WorkKind::kMixed); }
  static WorkType io_sync() { return Of(WorkKind::kIoSync); }
  static WorkType bursty(std::chrono::milliseconds burst, std::chrono::milliseconds sleep);
  static WorkType pipe_io(uint32_t burst_iters = 1024);
  static WorkType futex_ping_pong(uint32_t spin_iters = 1024);
  static WorkType futex_fan_out(uint32_t fan_out = 4, uint32_t spin_iters = 1024);
  static WorkType cache_pressure(uint32_t size_kb = 32, uint32_t stride = 64);
  static WorkType cache_yield(uint32_t size_kb = 32, uint32_t stride = 64);
  static WorkType cache_pipe(uint32_t size_kb = 32, uint32_t burst_iters = 1024);
  static WorkType sequence(Phase first, std::vector<Phase> rest);
  static WorkType fork_exit() { return Of(WorkKind::kForkExit); }
  static WorkType nice_sweep() { return Of(WorkKind::kNiceSweep); }
  static WorkType affinity_churn(uint32_t spin_iters = 1024);
  static WorkType policy_churn(uint32_t spin_iters = 1024);
  static WorkType fan_out_compute(uint32_t fan_out = 4, uint32_t cache_footprint_kb = 256,
                                  uint32_t operations = 5, uint32_t sleep_usec = 100);
  static WorkType page_fault_churn(uint32_t region_kb = 4096, uint32_t touches_per_cycle = 256,
                                   uint32_t spin_iters = 64);
  static WorkType mutex_contention(uint32_t contenders = 4, uint32_t hold_iters = 256,
                                   uint32_t work_iters = 1024);
  static WorkType custom_fn(std::string name, CustomWorkFn fn);

  // ktstr's PascalCase names ("CpuSpin", "Bursty", ...) with default parameters; Sequence and
  // Custom cannot be built from a name.
  static absl::StatusOr<WorkType> FromName(absl::string_view name);
  static std::vector<std::string> AllNames();  // the 20, in WorkKind order

  std::string name() const;  // PascalCase; Custom gives its custom_name
  // Workers that cooperate (pairs, messenger + receivers, mutex contenders); a worker count
  // must be a multiple of it.
  int group_size() const;
  absl::Status Validate(int workers) const;

 private:
  static WorkType Of(WorkKind k) {
    WorkType w;
    w.kind = k;
    return w;
  }
};

// Linux scheduling policy of a worker (RT policies need CAP_SYS_NICE).
struct SchedPolicy {
  enum class Kind { kNormal, kBatch, kIdle, kFifo, kRoundRobin };
  Kind kind = Kind::kNormal;
  int priority = 0;  // 1..99 for kFifo / kRoundRobin
  static SchedPolicy Normal() { return {}; }
  static SchedPolicy Batch() { return {Kind::kBatch, 0}; }
  static SchedPolicy Idle() { return {Kind::kIdle, 0}; }
  static SchedPolicy Fifo(int prio) { return {Kind::kFifo, prio}; }
  static SchedPolicy RoundRobin(int prio) { return {Kind::kRoundRobin, prio}; }
  absl::Status Validate() const;
  std::string ToString() const;
};

// MPOL_F_* flags for MemPolicy.
enum MpolFlags : uint32_t {
  kMpolNone = 0,
  kMpolStaticNodes = 1u << 15,
  kMpolRelativeNodes = 1u << 14,
  kMpolNumaBalancing = 1u << 13,
};

// set_mempolicy(2) applied in the worker before its loop. kDefault makes no call.
struct MemPolicy {
  enum class Kind {
    kDefault,
    kBind,
    kPreferred,
    kInterleave,
    kLocal,
    kPreferredMany,
    kWeightedInterleave
  };
  Kind kind = Kind::kDefault;
  std::vector<int> nodes;  // node ids (kPreferred: exactly one)
  uint32_t flags = kMpolNone;
  static MemPolicy Default() { return {}; }
  static MemPolicy Bind(std::vector<int> n) { return {Kind::kBind, std::move(n)}; }
  static MemPolicy Preferred(int node) { return {Kind::kPreferred, {node}}; }
  static MemPolicy Interleave(std::vector<int> n) { return {Kind::kInterleave, std::move(n)}; }
  static MemPolicy Local() { return {Kind::kLocal, {}}; }
  static MemPolicy PreferredMany(std::vector<int> n) {
    return {Kind::kPreferredMany, std::move(n)};
  }
  static MemPolicy WeightedInterleave(std::vector<int> n) {
    return {Kind::kWeightedInterleave, std::move(n)};
  }
  absl::Status Validate() const;
};

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_WORK_TYPES_H_
