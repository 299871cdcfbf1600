// RAII over the scx_fifo BPF skeleton and its struct_ops link.
//
// ScxFifo::Load() opens the skeleton, writes the knobs into read-only data, sizes the exit-dump
// buffer and loads (verifies) the programs; Attach() registers the scheduler with the kernel.
// Destroying the object detaches (the kernel logs "unregistered from user space") and frees
// everything. Nothing here exits the process or prints; errors come back as Status with
// libbpf's errno text (libbpf itself prints the verifier log on stderr through its logger).
#ifndef KTSTR_SCHEDULER_TESTS_SCHEDULERS_SCX_RUNTIME_H_
#define KTSTR_SCHEDULER_TESTS_SCHEDULERS_SCX_RUNTIME_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "scheduler_tests/schedulers/scx_fifo.h"
#include "scheduler_tests/schedulers/scx_fifo_options.h"

struct scx_fifo;  // the generated skeleton
struct bpf_link;

namespace ktstr::schedulers {

// What the kernel told ops.exit (sched_ext's "user exit info").
struct ScxExitInfo {
  int kind = 0;            // enum scx_exit_kind; 0 = no exit recorded
  int64_t exit_code = 0;
  int exit_cpu = -1;
  std::string reason;      // e.g. "runnable task stall"
  std::string msg;         // e.g. "scx_fifo: --error-after 100 inserts reached"
  std::string dump;        // the kernel's debug dump ("" if none)
};

using ScxFifoStats = std::array<uint64_t, SCX_FIFO_NR_STATS>;

class ScxFifo {
 public:
  // Opens and loads. A verifier rejection is a FailedPrecondition error (the verifier's log
  // went to stderr through libbpf's logger).
  static absl::StatusOr<std::unique_ptr<ScxFifo>> Load(const ScxFifoOptions& options);

  ScxFifo(const ScxFifo&) = delete;
  ScxFifo& operator=(const ScxFifo&) = delete;
  ~ScxFifo();

  // Registers the scheduler (struct_ops link). Fails if another sched_ext scheduler is loaded
  // or the kernel has no sched_ext.
  absl::Status Attach();
  // Detaches now (idempotent); the destructor does the same.
  void Detach();

  // True once the kernel has called ops.exit (any exit kind).
  bool Exited() const;
  ScxExitInfo exit_info() const;
  // Sums the per-CPU counters.
  absl::StatusOr<ScxFifoStats> ReadStats() const;

 private:
  explicit ScxFifo(struct scx_fifo* skel) : skel_(skel) {}

  struct scx_fifo* skel_;        // owned
  struct bpf_link* link_ = nullptr;  // owned
};

// Names the counters in ScxFifoStats, for printing.
const char* ScxFifoStatName(int index);

}  // namespace ktstr::schedulers

#endif  // KTSTR_SCHEDULER_TESTS_SCHEDULERS_SCX_RUNTIME_H_
