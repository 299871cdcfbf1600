/* Shared between scx_fifo.bpf.c (BPF) and its loader (C++): DSQ ids, stat slots, sizes.
 * Plain C so both compilers read it; no includes (vmlinux.h or <linux/types.h> come first). */
#ifndef KTSTR_SCHEDULER_TESTS_SCHEDULERS_SCX_FIFO_H_
#define KTSTR_SCHEDULER_TESTS_SCHEDULERS_SCX_FIFO_H_

/* The scheduler's name as /sys/kernel/sched_ext/root/ops shows it. */
#define SCX_FIFO_OPS_NAME "scx_fifo"

/* User DSQ ids (the kernel's built-in DSQs have the top bit set). */
enum scx_fifo_dsq {
  SCX_FIFO_DSQ_SHARED = 0,   /* the global FIFO every CPU pulls from */
  SCX_FIFO_DSQ_DEGRADED = 1, /* --degrade: the victim cgroup's tasks, pulled rarely */
  SCX_FIFO_DSQ_STALLED = 2,  /* --stall-after: victims parked here are never pulled */
};

/* Per-CPU counters the loader sums (index into the `stats` map). */
enum scx_fifo_stat {
  SCX_FIFO_STAT_ENQUEUED = 0, /* tasks inserted into a DSQ by ops.enqueue */
  SCX_FIFO_STAT_DIRECT,       /* tasks sent straight to an idle CPU by ops.select_cpu */
  SCX_FIFO_STAT_DEGRADED,     /* enqueues of --degrade victims */
  SCX_FIFO_STAT_STALLED,      /* enqueues parked by --stall-after */
  SCX_FIFO_NR_STATS,
};

/* Longest cgroup name --degrade matches (the leaf name, e.g. "cg_1"). */
#define SCX_FIFO_CGROUP_NAME_LEN 64

#endif /* KTSTR_SCHEDULER_TESTS_SCHEDULERS_SCX_FIFO_H_ */
