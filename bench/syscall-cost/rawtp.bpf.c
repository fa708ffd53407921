// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The alternative design of bench/syscall-cost: one raw tracepoint on sys_enter for all four syscalls, filtered
 * by syscall id, counting into the same per-CPU hash (key: tgid, syscall) the syscalls program uses. It runs on
 * every system call of every process, counted or not.
 */
#include "../../bpf/common.bpf.h"
#include "../../bpf/syscalls.h"
#include <asm/unistd_64.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct syscall_key);
	__type(value, __u64);
} raw_counts SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int bench_raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct syscall_key key;
	__u64 one = 1, *calls;

	/* sys_enter(struct pt_regs *regs, long id) */
	switch (ctx->args[1]) {
	case __NR_openat:
		key.syscall = SYSCALL_OPENAT;
		break;
	case __NR_read:
		key.syscall = SYSCALL_READ;
		break;
	case __NR_write:
		key.syscall = SYSCALL_WRITE;
		break;
	case __NR_connect:
		key.syscall = SYSCALL_CONNECT;
		break;
	default:
		return 0;
	}
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	/* As in syscalls.bpf.c: per-CPU value, no migration inside a tracepoint program, a plain add is exact. */
	calls = bpf_map_lookup_elem(&raw_counts, &key);
	if (calls) {
		*calls += 1;
		return 0;
	}
	bpf_map_update_elem(&raw_counts, &key, &one, BPF_NOEXIST);
	return 0;
}
