// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * cpu: on-CPU samples per process. The user side opens a CPU-clock perf event at N Hz on every online CPU and
 * attaches this program to each; every sample counts one for the process on that CPU (tgid 0: the CPU was idle).
 * Process names, cgroup ids and exits are kept as bpf/syscalls.bpf.c keeps them.
 */
#include "common.bpf.h"
#include "cpu.h"
#include <linux/bpf_perf_event.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

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
	__type(value, struct syscall_proc);
} cpu_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} cpu_exits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYSCALL_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} cpu_drops SEC(".maps");

SEC("perf_event")
int eoa_cpu_sample(struct bpf_perf_event_data *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct syscall_proc proc = {};
	__u64 one = 1;
	__u64 *samples = bpf_map_lookup_elem(&cpu_samples, &tgid);

	/* Per-CPU value, and a perf event program does not migrate: a plain add is exact. */
	if (samples) {
		*samples += 1;
		return 0;
	}
	if (bpf_map_update_elem(&cpu_samples, &tgid, &one, BPF_NOEXIST)) {
		samples = bpf_map_lookup_elem(&cpu_samples, &tgid);
		if (!samples) {
			eoa_count_drop(&cpu_drops, SYSCALL_DROP_COUNTS_FULL);
			return 0;
		}
		*samples += 1;
	}
	if (tgid == 0 || bpf_map_lookup_elem(&cpu_procs, &tgid))
		return 0;
	eoa_process_comm(&proc.comm);
	proc.cgroup_id = bpf_get_current_cgroup_id();
	if (bpf_map_update_elem(&cpu_procs, &tgid, &proc, BPF_NOEXIST) == -E2BIG)
		eoa_count_drop(&cpu_drops, SYSCALL_DROP_PROCS_FULL);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int eoa_cpu_exec(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct syscall_proc *proc = bpf_map_lookup_elem(&cpu_procs, &tgid);

	if (proc) {
		eoa_process_comm(&proc->comm);
		proc->cgroup_id = bpf_get_current_cgroup_id();
	}
	return 0;
}

struct trace_event_raw_sched_process_exit {
	bool group_dead;
} __attribute__((preserve_access_index));

SEC("tracepoint/sched/sched_process_exit")
int eoa_cpu_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct task_struct *task;
	struct proc_exit_event *ev;
	bool dead;

	if (bpf_core_field_exists(ctx->group_dead)) {
		dead = BPF_CORE_READ(ctx, group_dead);
	} else {
		task = (struct task_struct *)bpf_get_current_task();
		dead = BPF_CORE_READ(task, signal, live.counter) == 0;
	}
	if (!dead || !bpf_map_lookup_elem(&cpu_samples, &tgid))
		return 0;
	ev = bpf_ringbuf_reserve(&cpu_exits, sizeof(*ev), 0);
	if (!ev) {
		eoa_count_drop(&cpu_drops, SYSCALL_DROP_EXIT_LOST);
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
