// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * exec: one event per successful execve/execveat. sched_process_exec fires only after the new image is in place,
 * for both syscalls, so failed execs are never seen, and comm and the mm's executable file are already the new
 * ones.
 */
#include "common.bpf.h"
#include "exec.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Never read: put the event and its flags, which no map names, into the object's BTF for src/bpf/layouts.ts. */
const struct exec_event *btf_exec_event __attribute__((unused));
const enum exec_event_flag *btf_exec_event_flag __attribute__((unused));

/* Set by the user side before load. */
const volatile __u32 agent_tgid = 0;      /* the agent's own process: it and its descendants are marked */
const volatile __u32 only_uid = 0xffffffff; /* in-kernel filter: only execs by this uid (all when ~0) */

/* Processes (and threads) descended from the agent: its exec handler and everything that runs. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} exec_descendants SEC(".maps");

/*
 * Ring buffer size in bytes (a power of two, a multiple of the page size); set by the user side before load. Each
 * record is the event up to its filename's NUL (a typical one about 230 bytes, the longest 456 with its header),
 * so 2 MiB holds about 9,000 execs between two reads by the agent.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 21);
} exec_events SEC(".maps");

/* The event is built here, then copied into the ring at its real length (a reservation has a fixed size). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_event);
} exec_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EXEC_DROP_MAX);
	__type(key, enum exec_drop);
	__type(value, __u64);
} exec_drops SEC(".maps");

struct trace_event_raw_sched_process_exec {
	__u32 __data_loc_filename;
	int pid;
	int old_pid;
} __attribute__((preserve_access_index));

static __always_inline bool from_agent(__u32 tgid)
{
	return agent_tgid != 0 && (tgid == agent_tgid || bpf_map_lookup_elem(&exec_descendants, &tgid));
}

struct trace_event_raw_sched_process_fork {
	int parent_pid;
	int child_pid;
} __attribute__((preserve_access_index));

/* A child of the agent or of a descendant is a descendant (threads too: their ids are dropped at exit). */
SEC("tracepoint/sched/sched_process_fork")
int eoa_exec_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	__u32 child = BPF_CORE_READ(ctx, child_pid);
	__u8 one = 1;

	if (!from_agent(bpf_get_current_pid_tgid() >> 32))
		return 0;
	if (bpf_map_update_elem(&exec_descendants, &child, &one, BPF_ANY))
		eoa_count_drop(&exec_drops, EXEC_DROP_DESCENDANTS_FULL);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int eoa_exec_exit(void *ctx)
{
	__u32 pid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&exec_descendants, &pid);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int eoa_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct exec_event *ev;
	__u32 zero = 0;
	__u32 loc, len;
	long n;

	if (only_uid != 0xffffffff && uid != only_uid)
		return 0;
	ev = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!ev)
		return 0;
	ev->boot_ns = bpf_ktime_get_boot_ns();
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->pid = tgid;
	ev->ppid = BPF_CORE_READ(task, real_parent, tgid);
	ev->uid = uid;
	ev->flags = from_agent(tgid) ? EXEC_EVENT_FROM_AGENT : 0;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	BPF_CORE_READ_STR_INTO(&ev->parent_comm, task, real_parent, comm);
	/* The new image is in place: its mm's exe_file is the new executable. */
	eoa_named_executable(task, ev->executable, sizeof(ev->executable));
	eoa_named_executable(BPF_CORE_READ(task, real_parent), ev->parent_executable, sizeof(ev->parent_executable));
	/* __data_loc: low 16 bits are the offset of the string from the start of the record. */
	loc = BPF_CORE_READ(ctx, __data_loc_filename);
	n = bpf_probe_read_kernel_str(ev->filename, sizeof(ev->filename), (void *)ctx + (loc & 0xffff));
	len = n > 0 ? n : 0;
	if (len > sizeof(ev->filename))
		len = sizeof(ev->filename);
	ev->filename_len = len;
	if (bpf_ringbuf_output(&exec_events, ev, offsetof(struct exec_event, filename) + len, 0))
		eoa_count_drop(&exec_drops, EXEC_DROP_RINGBUF_FULL);
	return 0;
}
