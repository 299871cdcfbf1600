/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_fifo — a global-FIFO sched_ext scheduler: ktstr's sample scheduler under test.
 *
 * Policy. Every runnable task goes to the tail of one shared dispatch queue (DSQ); a CPU that
 * needs work takes the head. A waking task for which the kernel's default idle-CPU pick finds
 * an idle CPU is sent straight to that CPU's local DSQ (no queueing when nobody waits). Every
 * slice is SCX_SLICE_DFL (20 ms). There are no weights, no priorities and no locality: the
 * policy is fair in the round-robin sense and works well on one LLC; on many LLCs it migrates
 * freely. It is small on purpose — a reader sees the whole scheduler in one screen.
 *
 * Fault knobs. They exist so ktstr's checks can be shown to catch real scheduler bugs. All are
 * read-only data set by the loader before load (scx_fifo_main.cc); all are off by default.
 *   stall_after N    after N inserts, user tasks (not kernel threads, not PID 1, not the loader)
 *                    are parked on a DSQ nobody pulls from, so the kernel's watchdog ejects the
 *                    scheduler with "runnable task stall".
 *   degrade_cgroup   tasks of the cgroup with this leaf name (e.g. "cg_1") go to a DSQ that is
 *                    pulled only when the shared DSQ is empty or on every degrade_period-th
 *                    dispatch, with an eighth of the slice: starved under contention, never
 *                    long enough to trip the watchdog.
 *   error_after N    the N-th insert calls scx_bpf_error(): an "scx_bpf_error" exit.
 *   fail_verify      ops.enqueue dereferences a scalar: the verifier rejects the program.
 *
 * Kernel versions. The insert/move kfuncs were renamed in 6.13 (scx_bpf_dispatch ->
 * scx_bpf_dsq_insert, scx_bpf_consume -> scx_bpf_dsq_move_to_local). Both spellings are
 * declared weak and the one the running kernel has is picked at load time (bpf_ksym_exists).
 *
 * Exit info. ops.exit records the kernel's exit kind, reason, message and debug dump in `uei`
 * (the sched_ext "user exit info" layout); the loader prints it when the kernel disables us.
 */

/* vmlinux.h's generated kfunc prototypes lack the flavor names used below; declare our own. */
#define BPF_NO_KFUNC_PROTOTYPES
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* user_exit_info.bpf.h expects common.bpf.h's RESIZABLE_ARRAY (the dump buffer is sized by the
 * loader before load). We do not use common.bpf.h itself: its enums need run-time patching. */
#define RESIZABLE_ARRAY(elfsec, arr) arr[1] SEC("." #elfsec "." #arr)
#include "scx/user_exit_info.bpf.h"

#include "scheduler_tests/schedulers/scx_fifo.h"

#define PF_KTHREAD 0x00200000 /* include/linux/sched.h: a kernel thread */

#define FIFO_OP(name, args...) SEC("struct_ops/" #name) BPF_PROG(name, ##args)
#define FIFO_OP_SLEEPABLE(name, args...) SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

char _license[] SEC("license") = "GPL";

/* --- kfuncs (weak where the name depends on the kernel version) -------------------------- */
s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
                           bool *is_idle) __ksym;
void scx_bpf_error_bstr(char *fmt, unsigned long long *data, u32 data__sz) __ksym;
void scx_bpf_dsq_insert___fifo(struct task_struct *p, u64 dsq_id, u64 slice,
                               u64 enq_flags) __ksym __weak;                   /* >= 6.13 */
void scx_bpf_dispatch___fifo(struct task_struct *p, u64 dsq_id, u64 slice,
                             u64 enq_flags) __ksym __weak;                     /* 6.12 */
bool scx_bpf_dsq_move_to_local___fifo(u64 dsq_id) __ksym __weak;               /* >= 6.13 */
bool scx_bpf_consume___fifo(u64 dsq_id) __ksym __weak;                         /* 6.12 */

/* --- knobs (rodata, set by the loader) ---------------------------------------------------- */
const volatile u64 stall_after;
const volatile u64 error_after;
const volatile bool fail_verify;
const volatile char degrade_cgroup[SCX_FIFO_CGROUP_NAME_LEN];
const volatile u32 degrade_period = 16;
const volatile s32 loader_tgid;

/* --- state -------------------------------------------------------------------------------- */
u64 nr_inserted;       /* inserts by ops.enqueue, all DSQs */
u64 nr_dispatch_calls; /* ops.dispatch invocations */

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(key_size, sizeof(u32));
  __uint(value_size, sizeof(u64));
  __uint(max_entries, SCX_FIFO_NR_STATS);
} stats SEC(".maps");

UEI_DEFINE(uei);

enum fifo_class { FIFO_NORMAL, FIFO_DEGRADED, FIFO_STALLED };

static void stat_inc(u32 idx) {
  u64 *cnt = bpf_map_lookup_elem(&stats, &idx);
  if (cnt) (*cnt)++;
}

static void fifo_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) {
  if (bpf_ksym_exists(scx_bpf_dsq_insert___fifo))
    scx_bpf_dsq_insert___fifo(p, dsq_id, slice, enq_flags);
  else
    scx_bpf_dispatch___fifo(p, dsq_id, slice, enq_flags);
}

static bool fifo_move_to_local(u64 dsq_id) {
  if (bpf_ksym_exists(scx_bpf_dsq_move_to_local___fifo))
    return scx_bpf_dsq_move_to_local___fifo(dsq_id);
  return scx_bpf_consume___fifo(dsq_id);
}

static void fifo_error_after(u64 n) {
  static char fmt[] = "scx_fifo: --error-after %llu inserts reached";
  unsigned long long data[1] = {n};
  scx_bpf_error_bstr(fmt, data, sizeof(data));
}

/* Kernel threads, PID 1 (the ktstr agent) and the loader are never stall victims: the guest
 * must stay able to observe and report the ejection. */
static bool stall_victim(struct task_struct *p) {
  return !(p->flags & PF_KTHREAD) && p->tgid != 1 && p->tgid != loader_tgid;
}

static bool in_degraded_cgroup(struct task_struct *p) {
  char name[SCX_FIFO_CGROUP_NAME_LEN];
  const char *kn_name = BPF_CORE_READ(p, cgroups, dfl_cgrp, kn, name);
  int i;

  if (!kn_name || bpf_probe_read_kernel_str(name, sizeof(name), kn_name) < 0) return false;
  for (i = 0; i < SCX_FIFO_CGROUP_NAME_LEN; i++) {
    if (name[i] != degrade_cgroup[i]) return false;
    if (!name[i]) return true;
  }
  return false;
}

static enum fifo_class fifo_classify(struct task_struct *p) {
  if (stall_after && nr_inserted >= stall_after && stall_victim(p)) return FIFO_STALLED;
  if (degrade_cgroup[0] && in_degraded_cgroup(p)) return FIFO_DEGRADED;
  return FIFO_NORMAL;
}

/* --- ops ---------------------------------------------------------------------------------- */

s32 FIFO_OP(fifo_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags) {
  bool is_idle = false;
  s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);

  /* Straight to the idle CPU, unless a knob wants this task queued (and held back). */
  if (is_idle && fifo_classify(p) == FIFO_NORMAL) {
    fifo_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
    stat_inc(SCX_FIFO_STAT_DIRECT);
  }
  return cpu;
}

void FIFO_OP(fifo_enqueue, struct task_struct *p, u64 enq_flags) {
  u64 n;

  if (fail_verify) {
    /* Deliberately invalid: a random number used as a pointer. The verifier only walks this
     * branch when the knob is set (rodata is known at load time) and must reject it. */
    volatile u64 *bogus = (volatile u64 *)(unsigned long)bpf_get_prandom_u32();
    if (*bogus == 42) return;
  }

  n = __sync_fetch_and_add(&nr_inserted, 1) + 1;
  if (error_after && n == error_after) fifo_error_after(n);

  switch (fifo_classify(p)) {
    case FIFO_STALLED:
      fifo_insert(p, SCX_FIFO_DSQ_STALLED, SCX_SLICE_DFL, enq_flags);
      stat_inc(SCX_FIFO_STAT_STALLED);
      break;
    case FIFO_DEGRADED:
      fifo_insert(p, SCX_FIFO_DSQ_DEGRADED, SCX_SLICE_DFL / 8, enq_flags);
      stat_inc(SCX_FIFO_STAT_DEGRADED);
      break;
    default:
      fifo_insert(p, SCX_FIFO_DSQ_SHARED, SCX_SLICE_DFL, enq_flags);
      break;
  }
  stat_inc(SCX_FIFO_STAT_ENQUEUED);
}

void FIFO_OP(fifo_dispatch, s32 cpu, struct task_struct *prev) {
  u64 n = __sync_fetch_and_add(&nr_dispatch_calls, 1);

  if (degrade_cgroup[0] && n % degrade_period == 0 &&
      fifo_move_to_local(SCX_FIFO_DSQ_DEGRADED))
    return;
  if (fifo_move_to_local(SCX_FIFO_DSQ_SHARED)) return;
  /* Nobody else wants the CPU: the degraded cgroup may have it. */
  if (degrade_cgroup[0]) fifo_move_to_local(SCX_FIFO_DSQ_DEGRADED);
  /* SCX_FIFO_DSQ_STALLED is never pulled: that is the stall. */
}

s32 FIFO_OP_SLEEPABLE(fifo_init) {
  s32 ret = scx_bpf_create_dsq(SCX_FIFO_DSQ_SHARED, -1);

  if (!ret) ret = scx_bpf_create_dsq(SCX_FIFO_DSQ_DEGRADED, -1);
  if (!ret) ret = scx_bpf_create_dsq(SCX_FIFO_DSQ_STALLED, -1);
  return ret;
}

void FIFO_OP(fifo_exit, struct scx_exit_info *ei) { UEI_RECORD(uei, ei); }

SEC(".struct_ops.link")
struct sched_ext_ops fifo_ops = {
    .select_cpu = (void *)fifo_select_cpu,
    .enqueue = (void *)fifo_enqueue,
    .dispatch = (void *)fifo_dispatch,
    .init = (void *)fifo_init,
    .exit = (void *)fifo_exit,
    .name = SCX_FIFO_OPS_NAME,
};
