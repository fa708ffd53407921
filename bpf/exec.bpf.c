// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * exec: one event per successful execve/execveat. sched_process_exec fires only after the new image is in place,
 * for both syscalls, so failed execs are never seen and comm is already the new one.
 */
#include "common.bpf.h"
#include "exec.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Ring buffer size in bytes (a power of two, a multiple of the page size); set by the user side before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} exec_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EXEC_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} exec_drops SEC(".maps");

struct trace_event_raw_sched_process_exec {
	__u32 __data_loc_filename;
	int pid;
	int old_pid;
} __attribute__((preserve_access_index));

SEC("tracepoint/sched/sched_process_exec")
int eoa_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct exec_event *ev;
	__u32 loc;
	long n;

	ev = bpf_ringbuf_reserve(&exec_events, sizeof(*ev), 0);
	if (!ev) {
		eoa_count_drop(&exec_drops, EXEC_DROP_RINGBUF_FULL);
		return 0;
	}
	ev->boot_ns = bpf_ktime_get_boot_ns();
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->pid = bpf_get_current_pid_tgid() >> 32;
	ev->ppid = BPF_CORE_READ(task, real_parent, tgid);
	ev->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	BPF_CORE_READ_STR_INTO(&ev->parent_comm, task, real_parent, comm);
	/* __data_loc: low 16 bits are the offset of the string from the start of the record. */
	loc = BPF_CORE_READ(ctx, __data_loc_filename);
	n = bpf_probe_read_kernel_str(ev->filename, sizeof(ev->filename), (void *)ctx + (loc & 0xffff));
	ev->filename_len = n > 0 ? n : 0;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}
