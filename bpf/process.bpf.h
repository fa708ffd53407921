/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Process tracking, shared by the programs that count per process (bpf/syscalls.bpf.c, bpf/cpu.bpf.c): the entry
 * of a process seen for the first time (its counts and its info: executable name, cgroup), the info refreshed at exec, and the exit event
 * that tells the user side to publish the final counts and then delete the process's entries.
 *
 * Each program passes its own maps: `counts` (per-CPU hash, __u32 tgid → the program's counts), `procs` (hash,
 * __u32 tgid → struct process_info), `exits` (ring buffer of struct process_exit_event) and `drops` (per-CPU
 * array keyed by enum process_drop).
 */
#ifndef EOA_PROCESS_BPF_H
#define EOA_PROCESS_BPF_H

#include "common.bpf.h"
#include "process.h"

/* The cgroup fields cgroup_mkdir reads (the running kernel's offsets, by CO-RE). */
struct kernfs_node {
	__u64 id;
} __attribute__((preserve_access_index));

struct cgroup_root {
	int hierarchy_id;
} __attribute__((preserve_access_index));

struct cgroup {
	struct kernfs_node *kn;
	struct cgroup_root *root;
} __attribute__((preserve_access_index));

/*
 * Set by the user side before load (--exclude-self): a process left out of the counts, the agent itself (all its
 * threads: they share the tgid); 0, the default, leaves nothing out. Its exec handler's children are separate
 * processes, counted like any other.
 */
const volatile __u32 excluded_tgid = 0;

static __always_inline bool process_excluded(__u32 tgid)
{
	return excluded_tgid != 0 && tgid == excluded_tgid;
}

/* Never read: put the events, which no map names, into the object's BTF for src/bpf/layouts.ts. */
const struct process_cgroup_event *btf_process_cgroup_event __attribute__((unused));
/* Never read: puts the exit event, which no map names, into the object's BTF for src/bpf/layouts.ts. */
const struct process_exit_event *btf_process_exit_event __attribute__((unused));

/*
 * The counts of `tgid`, seen for the first time on this CPU's lookup: creates its entry from `zero` (a zeroed
 * value of the counts map's size) and its info, and returns this CPU's value to count on. Another CPU may have
 * created the entry since the lookup: then that one is returned. NULL when the counts map is full (counted).
 */
/* One more write to the procs map: the user side reads that map only when this count moved (or a process is new). */
static __always_inline void process_info_written(void *writes)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(writes, &zero);

	if (n)
		(*n)++;
}

static __always_inline void *process_first_seen(void *counts, void *procs, void *writes, void *drops, __u32 tgid,
						const void *zero)
{
	struct process_info info = {};
	struct task_struct *task;
	void *value;

	/*
	 * A task in do_exit() may be sampled after its process's exit was reported (or as its only sample): an entry made
	 * now would never see an exit event, and would stay. Its first count is dropped instead, counted as such.
	 */
	task = (struct task_struct *)bpf_get_current_task();
	if (tgid != 0 && (BPF_CORE_READ(task, flags) & EOA_PF_EXITING)) {
		eoa_count_drop(drops, PROCESS_DROP_EXITING);
		return NULL;
	}
	bpf_map_update_elem(counts, &tgid, zero, BPF_NOEXIST);
	value = bpf_map_lookup_elem(counts, &tgid);
	if (!value) {
		eoa_count_drop(drops, PROCESS_DROP_COUNTS_FULL);
		return NULL;
	}
	/* tgid 0 is the idle task (CPU samples): counted, but not a process. */
	if (tgid == 0 || bpf_map_lookup_elem(procs, &tgid))
		return value;
	/* The first count of any process, one that predates the agent too: its executable as it is now. */
	eoa_process_executable(info.executable, sizeof(info.executable));
	info.cgroup_id = bpf_get_current_cgroup_id();
	if (bpf_map_update_elem(procs, &tgid, &info, BPF_NOEXIST) == -E2BIG)
		eoa_count_drop(drops, PROCESS_DROP_INFO_FULL);
	else
		process_info_written(writes);
	return value;
}

/* sched_process_exec of the current task: a tracked process's executable (and often its cgroup) changed. */
static __always_inline void process_exec(void *procs, void *writes)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct process_info *info = bpf_map_lookup_elem(procs, &tgid);

	if (info) {
		eoa_process_executable(info->executable, sizeof(info->executable));
		/* Container runtimes move a process into its cgroup before they exec the entrypoint. */
		info->cgroup_id = bpf_get_current_cgroup_id();
		process_info_written(writes);
	}
}

struct trace_event_raw_sched_process_exit {
	bool group_dead;
} __attribute__((preserve_access_index));

static __always_inline bool process_group_dead(struct trace_event_raw_sched_process_exit *ctx)
{
	struct task_struct *task;

	/* Kernels since 6.16 say it in the tracepoint; before, signal->live has already dropped to 0. */
	if (bpf_core_field_exists(ctx->group_dead))
		return BPF_CORE_READ(ctx, group_dead);
	task = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(task, signal, live.counter) == 0;
}

/* sched_process_exit of the current task: when it is the last thread of a tracked process, report the exit. */
static __always_inline void process_exit(struct trace_event_raw_sched_process_exit *ctx, void *counts, void *procs,
					 void *exits, void *drops)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct process_exit_event *ev;
	struct process_info *info;

	if (!process_group_dead(ctx))
		return;
	info = bpf_map_lookup_elem(procs, &tgid);
	if (!info && !bpf_map_lookup_elem(counts, &tgid))
		return;
	ev = bpf_ringbuf_reserve(exits, sizeof(*ev), 0);
	if (!ev) {
		eoa_count_drop(drops, PROCESS_DROP_EXIT_LOST);
		return;
	}
	ev->boot_ns = bpf_ktime_get_boot_ns();
	ev->tgid = tgid;
	ev->_pad = 0;
	/* The name it was counted under: the mm may be gone by now (many kernels trace the exit after exit_mm()). */
	if (info)
		__builtin_memcpy(ev->executable, info->executable, sizeof(ev->executable));
	else
		eoa_process_executable(ev->executable, sizeof(ev->executable));
	ev->cgroup_id = bpf_get_current_cgroup_id();
	bpf_ringbuf_submit(ev, 0);
}

/*
 * cgroup_mkdir(struct cgroup *cgrp, const char *path) as a raw tracepoint: report a new cgroup of the v2 hierarchy
 * (hierarchy id 0; the v1 hierarchies of a hybrid host are skipped) with its path on the `cgroups` ring buffer.
 * Its id is the one bpf_get_current_cgroup_id() gives a task in it: the kernfs node's id.
 */
static __always_inline void process_cgroup_mkdir(struct bpf_raw_tracepoint_args *ctx, void *cgroups, void *drops)
{
	struct cgroup *cgrp = (struct cgroup *)ctx->args[0];
	struct process_cgroup_event *ev;

	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return;
	ev = bpf_ringbuf_reserve(cgroups, sizeof(*ev), 0);
	if (!ev) {
		eoa_count_drop(drops, PROCESS_DROP_CGROUP_LOST);
		return;
	}
	ev->id = BPF_CORE_READ(cgrp, kn, id);
	if (bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), (const char *)ctx->args[1]) < 0)
		ev->path[0] = 0;
	bpf_ringbuf_submit(ev, 0);
}

#endif /* EOA_PROCESS_BPF_H */
