#include "scheduler_tests/schedulers/scx_runtime.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

// The skeleton and the exit-info layout use the kernel's short type names.
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "scx/user_exit_info_common.h"
#include "scheduler_tests/schedulers/scx_fifo.bpf.skel.h"

namespace ktstr::schedulers {
namespace {

absl::Status Errno(absl::string_view what, int err) {
  err = err < 0 ? -err : err;
  return absl::ErrnoToStatus(err, absl::StrCat(what, ": ", strerror(err)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ScxFifo>> ScxFifo::Load(const ScxFifoOptions& options) {
  struct scx_fifo* skel = scx_fifo__open();
  if (skel == nullptr) return Errno("opening the scx_fifo BPF object", errno);
  std::unique_ptr<ScxFifo> self(new ScxFifo(skel));

  skel->rodata->stall_after = options.stall_after;
  skel->rodata->error_after = options.error_after;
  skel->rodata->fail_verify = options.fail_verify;
  skel->rodata->loader_tgid = getpid();
  std::memset(skel->rodata->degrade_cgroup, 0, sizeof(skel->rodata->degrade_cgroup));
  std::strncpy(skel->rodata->degrade_cgroup, options.degrade_cgroup.c_str(),
               sizeof(skel->rodata->degrade_cgroup) - 1);
  skel->struct_ops.fifo_ops->timeout_ms = options.timeout_ms;

  // The kernel copies up to exit_dump_len bytes of debug dump; size our buffer to match, as
  // user_exit_info.h's UEI_SET_SIZE does.
  uint32_t dump_len = skel->struct_ops.fifo_ops->exit_dump_len;
  if (dump_len == 0) dump_len = UEI_DUMP_DFL_LEN;
  skel->rodata->uei_dump_len = dump_len;
  if (int err = bpf_map__set_value_size(skel->maps.data_uei_dump, dump_len); err != 0) {
    return Errno("sizing the exit dump buffer", err);
  }
  size_t sz = 0;
  skel->data_uei_dump = static_cast<decltype(skel->data_uei_dump)>(
      bpf_map__initial_value(skel->maps.data_uei_dump, &sz));

  if (int err = scx_fifo__load(skel); err != 0) {
    err = err < 0 ? -err : err;
    return absl::FailedPreconditionError(absl::StrCat(
        "loading scx_fifo (verifier or kernel refused it; its log is above): ", strerror(err)));
  }
  return self;
}

ScxFifo::~ScxFifo() {
  Detach();
  scx_fifo__destroy(skel_);
}

absl::Status ScxFifo::Attach() {
  if (link_ != nullptr) return absl::OkStatus();
  link_ = bpf_map__attach_struct_ops(skel_->maps.fifo_ops);
  if (link_ == nullptr) {
    int err = errno;
    return Errno(err == EBUSY ? "attaching scx_fifo (another sched_ext scheduler is loaded)"
                              : "attaching scx_fifo",
                 err);
  }
  return absl::OkStatus();
}

void ScxFifo::Detach() {
  if (link_ != nullptr) {
    bpf_link__destroy(link_);
    link_ = nullptr;
  }
}

bool ScxFifo::Exited() const {
  // ops.exit publishes `kind` last with a full barrier; read it the same way.
  return __atomic_load_n(&skel_->data->uei.kind, __ATOMIC_SEQ_CST) != 0;
}

ScxExitInfo ScxFifo::exit_info() const {
  ScxExitInfo info;
  const struct user_exit_info& uei = skel_->data->uei;
  info.kind = __atomic_load_n(&uei.kind, __ATOMIC_SEQ_CST);
  info.exit_code = uei.exit_code;
  info.exit_cpu = uei.exit_cpu;
  info.reason.assign(uei.reason, strnlen(uei.reason, sizeof(uei.reason)));
  info.msg.assign(uei.msg, strnlen(uei.msg, sizeof(uei.msg)));
  if (skel_->data_uei_dump != nullptr) {
    info.dump.assign(skel_->data_uei_dump->uei_dump,
                     strnlen(skel_->data_uei_dump->uei_dump, skel_->rodata->uei_dump_len));
  }
  return info;
}

absl::StatusOr<ScxFifoStats> ScxFifo::ReadStats() const {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return Errno("counting possible CPUs", ncpu);
  ScxFifoStats total{};
  std::vector<uint64_t> per_cpu(ncpu);
  for (uint32_t i = 0; i < SCX_FIFO_NR_STATS; ++i) {
    if (bpf_map__lookup_elem(skel_->maps.stats, &i, sizeof(i), per_cpu.data(),
                             per_cpu.size() * sizeof(uint64_t), 0) != 0) {
      return Errno("reading the stats map", errno);
    }
    for (uint64_t v : per_cpu) total[i] += v;
  }
  return total;
}

const char* ScxFifoStatName(int index) {
  switch (index) {
    case SCX_FIFO_STAT_ENQUEUED: return "enqueued";
    case SCX_FIFO_STAT_DIRECT: return "direct";
    case SCX_FIFO_STAT_DEGRADED: return "degraded";
    case SCX_FIFO_STAT_STALLED: return "stalled";
    default: return "?";
  }
}

}  // namespace ktstr::schedulers
