// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * cpu: on-CPU samples per process. The user side opens a CPU-clock perf event at N Hz on every online CPU and
 * attaches this program to each; every sample counts one for the process on that CPU (tgid 0: the CPU was idle).
 * Process names, cgroup ids and exits are tracked by bpf/process.bpf.h, as for bpf/syscalls.bpf.c.
 */
#include "process.bpf.h"
#include <linux/bpf_perf_event.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Samples by tgid: one u64 per process (tgid 0: the CPU was idle). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, __u64);
} cpu_samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct process_info);
} cpu_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} cpu_exits SEC(".maps");

/* New cgroup v2 cgroups with their paths (struct process_cgroup_event): 256 KiB, ~990 cgroups between polls. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} cpu_cgroups SEC(".maps");

/* Writes to cpu_procs (new entries, execs): the user side reads cpu_procs only when this moved. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cpu_info_writes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROCESS_DROP_MAX);
	__type(key, enum process_drop);
	__type(value, __u64);
} cpu_drops SEC(".maps");

SEC("perf_event")
int eoa_cpu_sample(struct bpf_perf_event_data *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 zero = 0;
	__u64 *samples;

	if (process_excluded(tgid))
		return 0;
	samples = bpf_map_lookup_elem(&cpu_samples, &tgid);
	if (!samples)
		samples = process_first_seen(&cpu_samples, &cpu_procs, &cpu_info_writes, &cpu_drops, tgid, &zero);
	/* Per-CPU value, and a perf event program does not migrate: a plain add is exact. */
	if (samples)
		*samples += 1;
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int eoa_cpu_exec(void *ctx)
{
	process_exec(&cpu_procs, &cpu_info_writes);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int eoa_cpu_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	process_exit(ctx, &cpu_samples, &cpu_procs, &cpu_exits, &cpu_drops);
	return 0;
}

/* A cgroup was created: its path, for attributing processes that are gone (and their cgroup too) by the next poll. */
SEC("raw_tracepoint/cgroup_mkdir")
int eoa_cpu_cgroup_mkdir(struct bpf_raw_tracepoint_args *ctx)
{
	process_cgroup_mkdir(ctx, &cpu_cgroups, &cpu_drops);
	return 0;
}
