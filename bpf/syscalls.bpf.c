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
#include "process.bpf.h"
#include "syscalls.h"
#include <asm/unistd.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Never read: puts the lane order, which no map names, into the object's BTF for src/bpf/layouts.ts. */
const enum counted_syscall *btf_counted_syscall __attribute__((unused));

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
	__type(value, struct process_info);
} syscall_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} proc_exits SEC(".maps");

/* New cgroup v2 cgroups with their paths (struct process_cgroup_event): 256 KiB, ~990 cgroups between polls. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} syscall_cgroups SEC(".maps");

/* Writes to syscall_procs (new entries, execs): the user side reads syscall_procs only when this moved. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} syscall_info_writes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROCESS_DROP_MAX);
	__type(key, enum process_drop);
	__type(value, __u64);
} syscall_drops SEC(".maps");

/* First counted call of this process on this CPU: out of the hot path. */
static __noinline int count_first(__u32 tgid, __u32 syscall)
{
	struct syscall_counts zero = {};
	struct syscall_counts *counts;

	if (syscall >= SYSCALL_MAX)
		return 0;
	counts = process_first_seen(&syscall_counts, &syscall_procs, &syscall_info_writes, &syscall_drops, tgid, &zero);
	if (counts)
		counts->calls[syscall] += 1;
	return 0;
}

static __always_inline int count_call(__u32 syscall)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct syscall_counts *counts;

	if (syscall >= SYSCALL_MAX || process_excluded(tgid))
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
	process_exec(&syscall_procs, &syscall_info_writes);
	return 0;
}

/* The last thread of a counted process is exiting: tell the user side, which publishes the final counts and, once
 * they are published, deletes the process's entries. */
SEC("tracepoint/sched/sched_process_exit")
int eoa_sys_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	process_exit(ctx, &syscall_counts, &syscall_procs, &proc_exits, &syscall_drops);
	return 0;
}

/* A cgroup was created: its path, for attributing processes that are gone (and their cgroup too) by the next poll. */
SEC("raw_tracepoint/cgroup_mkdir")
int eoa_sys_cgroup_mkdir(struct bpf_raw_tracepoint_args *ctx)
{
	process_cgroup_mkdir(ctx, &syscall_cgroups, &syscall_drops);
	return 0;
}
