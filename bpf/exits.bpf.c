// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * exits: every process end (the last thread of a thread group, sched:sched_process_exit), counted in the kernel by
 * cgroup, executable and how it ended (exit status 0 or not; the killing signal, core dump), and whether the OOM
 * killer chose it.
 *
 * OOM kills: mark_oom_victim() sets the victim's signal->oom_mm right before it traces oom:mark_victim, in the OOM
 * killer's context (its pid field is a thread of the victim, maybe not its leader). The victim dies of the SIGKILL
 * that follows; its exit, traced here in its own context, reads that mark: its cgroup and executable are then the
 * victim's own, with no pid map between the two tracepoints and nothing to look up after the fact (the cgroup may
 * be removed a moment later: its id is in the key, its path came on the cgroup ring when it was made).
 */
#include "process.bpf.h"
#include "exits.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Exits by struct exit_key. 16,384 keys: cgroups × executables × ways of ending seen in about two poll intervals
 * (the user side deletes a generation's keys once no exit counts into them: see struct exit_key); a full map is
 * counted.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct exit_key);
	__type(value, __u64);
} exits_counts SEC(".maps");

/*
 * The generation new exits are counted under (0 or 1), written by the user side at each poll. An exit reads it once,
 * at its start: a program runs for microseconds, the user side deletes the old generation's keys one poll interval
 * after the flip.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} exits_generation SEC(".maps");

/* New cgroup v2 cgroups with their paths (struct process_cgroup_event), as for bpf/syscalls.bpf.c. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} exits_cgroups SEC(".maps");

/* Exit events (struct exit_event), only with exit_events set: 256 KiB, ~2,500 exits between polls. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} exits_events SEC(".maps");

/* Set by the user side before load: write every exit to exits_events too (--otlp-logs). */
const volatile __u32 exit_events = 0;

/* Slots: PROCESS_DROP_EXIT_LOST (exits_events was full: that exit's event is lost, its count is not), PROCESS_DROP_COUNTS_FULL (exits_counts was full: that exit is not counted), PROCESS_DROP_CGROUP_LOST. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROCESS_DROP_MAX);
	__type(key, enum process_drop);
	__type(value, __u64);
} exits_drops SEC(".maps");

/* Never read: put the types of the shared headers that no map names into the object's BTF (src/bpf/layouts.ts). */
const enum exit_reason *btf_exit_reason __attribute__((unused));
const struct process_info *btf_process_info __attribute__((unused));
const struct exit_event *btf_exit_event __attribute__((unused));

#define EOA_SIGNAL_GROUP_EXIT 0x00000004 /* signal_struct.flags: the group is exiting with group_exit_code */

/* The fields read here, under a CO-RE flavour name (the part after ___ is ignored when matching the kernel's). */
struct signal_struct___exits {
	unsigned int flags;
	int group_exit_code;
	void *oom_mm;
} __attribute__((preserve_access_index));

struct cred___exits {
	struct {
		unsigned int val;
	} uid; /* kuid_t */
} __attribute__((preserve_access_index));

struct task_struct___exits {
	int tgid;
	int exit_code;
	__u64 start_boottime;
	struct signal_struct___exits *signal;
	struct task_struct___exits *group_leader;
	struct task_struct___exits *real_parent;
	const struct cred___exits *real_cred;
} __attribute__((preserve_access_index));

/* The exit of the process `key` counts, with its status, on the events ring. */
static __always_inline void exits_event(struct task_struct___exits *task, const struct exit_key *key, int code)
{
	struct exit_event *ev = bpf_ringbuf_reserve(&exits_events, sizeof(*ev), 0);

	if (!ev) {
		eoa_count_drop(&exits_drops, PROCESS_DROP_EXIT_LOST);
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->boot_ns = bpf_ktime_get_boot_ns();
	ev->start_boot_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	ev->cgroup_id = key->cgroup_id;
	ev->tgid = bpf_get_current_pid_tgid() >> 32;
	ev->ppid = BPF_CORE_READ(task, real_parent, tgid);
	ev->uid = BPF_CORE_READ(task, real_cred, uid.val);
	ev->wait_status = code;
	ev->oom_killed = key->oom_killed;
	__builtin_memcpy(ev->executable, key->executable, sizeof(ev->executable));
	bpf_ringbuf_submit(ev, 0);
}

SEC("tracepoint/sched/sched_process_exit")
int eoa_exits_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	struct task_struct___exits *task = (struct task_struct___exits *)bpf_get_current_task();
	struct signal_struct___exits *signal;
	struct exit_key key;
	__u64 one = 1, *count;
	__u32 zero = 0, *generation;
	int code;

	if (!process_group_dead(ctx))
		return 0;
	__builtin_memset(&key, 0, sizeof(key));
	signal = BPF_CORE_READ(task, signal);
	/* The status wait(2) reports: the group's when it exits as one (exit_group, a fatal signal), else this task's. */
	if (BPF_CORE_READ(signal, flags) & EOA_SIGNAL_GROUP_EXIT)
		code = BPF_CORE_READ(signal, group_exit_code);
	else
		code = BPF_CORE_READ(task, exit_code);
	if ((code & 0x7f) == 0) {
		key.reason = EXIT_REASON_EXITED;
		key.code_nonzero = ((code >> 8) & 0xff) != 0;
	} else {
		key.reason = EXIT_REASON_SIGNALED;
		key.signal = code & 0x7f;
		key.core_dumped = (code & 0x80) != 0;
	}
	key.oom_killed = BPF_CORE_READ(signal, oom_mm) != NULL;
	key.cgroup_id = bpf_get_current_cgroup_id();
	generation = bpf_map_lookup_elem(&exits_generation, &zero);
	if (generation)
		key.generation = *generation & 1;
	/* The mm is still there: since 6.16 the exit is traced before exit_mm() (before that, the comm is used). */
	eoa_process_executable(key.executable, sizeof(key.executable));
	if (exit_events)
		exits_event(task, &key, code);
	count = bpf_map_lookup_elem(&exits_counts, &key);
	if (count) {
		__sync_fetch_and_add(count, 1);
		return 0;
	}
	if (bpf_map_update_elem(&exits_counts, &key, &one, BPF_NOEXIST) == 0)
		return 0;
	/* Another CPU made the key since the lookup, or the map is full. */
	count = bpf_map_lookup_elem(&exits_counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		eoa_count_drop(&exits_drops, PROCESS_DROP_COUNTS_FULL);
	return 0;
}

/* A cgroup was created: its path, for attributing exits in a cgroup that is gone by the next poll. */
SEC("raw_tracepoint/cgroup_mkdir")
int eoa_exits_cgroup_mkdir(struct bpf_raw_tracepoint_args *ctx)
{
	process_cgroup_mkdir(ctx, &exits_cgroups, &exits_drops);
	return 0;
}
