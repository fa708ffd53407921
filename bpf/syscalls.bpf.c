// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * syscalls: per-process counts of openat, read, write and connect from one raw tracepoint on sys_enter filtered
 * by syscall number, in a per-CPU hash keyed by tgid (one value of four counters per process), plus each counted
 * process's comm and an event when it ends.
 *
 * One raw tracepoint rather than the four syscalls:sys_enter_* tracepoints, by measurement (bench/syscall-cost,
 * docs/benchmarks.md): it skips the perf tracing path those take (argument copy, perf buffer), so a counted call
 * costs about 74 ns less, for about 11 ns more on every other syscall; cheaper overall once more than about 13 %
 * of the syscalls on a host are counted ones, as reads and writes usually make them.
 */
#include "common.bpf.h"
#include "syscalls.h"
#include <asm/unistd.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct syscall_counts);
} syscall_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct syscall_proc);
} syscall_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} proc_exits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYSCALL_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} syscall_drops SEC(".maps");

/* First counted call of this process: create its entry, and remember its comm the first time. */
static __noinline int count_first(__u32 tgid, __u32 syscall)
{
	struct syscall_counts first = {};
	struct syscall_proc proc = {};
	struct syscall_counts *counts;

	if (syscall >= SYSCALL_MAX)
		return 0;
	first.calls[syscall] = 1;
	if (bpf_map_update_elem(&syscall_counts, &tgid, &first, BPF_NOEXIST) == 0)
		goto remember_comm;
	/* Another CPU created the entry between our lookup and update: count on it. */
	counts = bpf_map_lookup_elem(&syscall_counts, &tgid);
	if (!counts) {
		eoa_count_drop(&syscall_drops, SYSCALL_DROP_COUNTS_FULL);
		return 0;
	}
	counts->calls[syscall] += 1;
remember_comm:
	if (bpf_map_lookup_elem(&syscall_procs, &tgid))
		return 0;
	eoa_process_comm(&proc.comm);
	proc.cgroup_id = bpf_get_current_cgroup_id();
	if (bpf_map_update_elem(&syscall_procs, &tgid, &proc, BPF_NOEXIST) == -E2BIG)
		eoa_count_drop(&syscall_drops, SYSCALL_DROP_PROCS_FULL);
	return 0;
}

static __always_inline int count_call(__u32 syscall)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct syscall_counts *counts;

	if (syscall >= SYSCALL_MAX)
		return 0;
	counts = bpf_map_lookup_elem(&syscall_counts, &tgid);
	/* Per-CPU value and tracepoint programs do not migrate: a plain add is exact. */
	if (counts) {
		counts->calls[syscall] += 1;
		return 0;
	}
	return count_first(tgid, syscall);
}

/* x86-64 runs 32-bit (ia32) syscalls through the same sys_enter with their own numbers (3 is read there, 1 is
 * exit): thread_info.status has TS_COMPAT during one. The syscalls:sys_enter_* tracepoints ignore them too. */
#define EOA_TS_COMPAT 0x0002

struct thread_info {
	__u32 status;
} __attribute__((preserve_access_index));

struct task_struct___ti {
	struct thread_info thread_info;
} __attribute__((preserve_access_index));

static __always_inline bool compat_syscall(void)
{
#if defined(__TARGET_ARCH_x86)
	struct task_struct___ti *task = (struct task_struct___ti *)bpf_get_current_task();

	if (bpf_core_field_exists(task->thread_info.status))
		return BPF_CORE_READ(task, thread_info.status) & EOA_TS_COMPAT;
#endif
	return false;
}

/* sys_enter(struct pt_regs *regs, long id): runs on every system call of every task. */
SEC("raw_tracepoint/sys_enter")
int eoa_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 syscall;

	switch (ctx->args[1]) {
	case __NR_openat:
		syscall = SYSCALL_OPENAT;
		break;
	case __NR_read:
		syscall = SYSCALL_READ;
		break;
	case __NR_write:
		syscall = SYSCALL_WRITE;
		break;
	case __NR_connect:
		syscall = SYSCALL_CONNECT;
		break;
	default:
		return 0;
	}
	if (compat_syscall())
		return 0;
	return count_call(syscall);
}

/* A counted process exec'd: its comm changed. */
SEC("tracepoint/sched/sched_process_exec")
int eoa_sys_exec(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct syscall_proc *proc = bpf_map_lookup_elem(&syscall_procs, &tgid);

	if (proc) {
		eoa_process_comm(&proc->comm);
		/* Container runtimes move a process into its cgroup before they exec the entrypoint. */
		proc->cgroup_id = bpf_get_current_cgroup_id();
	}
	return 0;
}

struct trace_event_raw_sched_process_exit {
	bool group_dead;
} __attribute__((preserve_access_index));

static __always_inline bool group_dead(struct trace_event_raw_sched_process_exit *ctx)
{
	struct task_struct *task;

	/* Kernels since 6.16 say it in the tracepoint; before, signal->live has already dropped to 0. */
	if (bpf_core_field_exists(ctx->group_dead))
		return BPF_CORE_READ(ctx, group_dead);
	task = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(task, signal, live.counter) == 0;
}

/* The last thread of a counted process is exiting: tell the user side, which publishes the final counts once
 * and then deletes the process's entries. */
SEC("tracepoint/sched/sched_process_exit")
int eoa_sys_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct proc_exit_event *ev;

	if (!group_dead(ctx))
		return 0;
	if (!bpf_map_lookup_elem(&syscall_procs, &tgid) && !bpf_map_lookup_elem(&syscall_counts, &tgid))
		return 0;
	ev = bpf_ringbuf_reserve(&proc_exits, sizeof(*ev), 0);
	if (!ev) {
		eoa_count_drop(&syscall_drops, SYSCALL_DROP_EXIT_LOST);
		return 0;
	}
	ev->boot_ns = bpf_ktime_get_boot_ns();
	ev->tgid = tgid;
	ev->_pad = 0;
	eoa_process_comm(&ev->comm);
	ev->cgroup_id = bpf_get_current_cgroup_id();
	bpf_ringbuf_submit(ev, 0);
	return 0;
}
