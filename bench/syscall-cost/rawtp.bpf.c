// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The alternative design of bench/syscall-cost: one raw tracepoint on sys_enter for all four syscalls, filtered
 * by syscall id, counting into the same per-CPU hash the syscalls program uses (key: tgid, value: four counters).
 * It runs on every system call of every process, counted or not.
 */
#include "../../bpf/common.bpf.h"
#include "../../bpf/syscalls.h"
#include <asm/unistd_64.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct syscall_counts);
} raw_counts SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int bench_raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct syscall_counts first, *counts;
	__u32 syscall, tgid;

	/* sys_enter(struct pt_regs *regs, long id) */
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
	tgid = bpf_get_current_pid_tgid() >> 32;
	/* As in syscalls.bpf.c: per-CPU value, no migration inside a tracepoint program, a plain add is exact. */
	counts = bpf_map_lookup_elem(&raw_counts, &tgid);
	if (counts) {
		counts->calls[syscall] += 1;
		return 0;
	}
	__builtin_memset(&first, 0, sizeof(first));
	first.calls[syscall] = 1;
	bpf_map_update_elem(&raw_counts, &tgid, &first, BPF_NOEXIST);
	return 0;
}
