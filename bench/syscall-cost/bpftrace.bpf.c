// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * bpftrace's `tracepoint:syscalls:sys_enter_read { @[pid] = count(); }` rebuilt for the fast alternation of
 * bench/syscall-cost (bpftrace itself cannot be switched on and off in milliseconds). Same work as the program
 * bpftrace 0.17 loads (bpftool prog dump xlated): a per-CPU hash of 4096 u64 → u64, a lookup, +1, and an update
 * on every call, and it returns 1 as bpftrace's does (the kernel then also hands the event to the perf event).
 */
#include "../../bpf/common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} bpftrace_counts SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_read")
int bench_bpftrace(void *ctx)
{
	__u64 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 *count = bpf_map_lookup_elem(&bpftrace_counts, &pid);
	__u64 value = count ? *count + 1 : 1;

	bpf_map_update_elem(&bpftrace_counts, &pid, &value, BPF_ANY);
	return 1;
}
