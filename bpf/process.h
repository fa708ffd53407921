/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Layouts of process tracking, shared by the programs that count per process (syscalls, cpu) and the user side
 * (src/collector/process.ts decodes them with the offsets src/bpf/layouts.ts takes from the objects' BTF).
 * Each such program keys its counts by __u32 tgid and keeps, next to them, the process's info and an exit ring.
 */
#ifndef EOA_PROCESS_H
#define EOA_PROCESS_H

#include <linux/types.h>

#define PROCESS_COMM_LEN 16

/* Value of the <prog>_procs hash (keyed by __u32 tgid): the process as the kernel last saw it. Size: 24 bytes. */
struct process_info {
	char comm[PROCESS_COMM_LEN];
	__u64 cgroup_id; /* cgroup v2 id at the first count or the last exec */
};

/* A process (thread group) ended; written to the program's exit ring buffer. Size: 40 bytes. */
struct process_exit_event {
	__u64 boot_ns;
	__u32 tgid;
	__u32 _pad;
	char comm[PROCESS_COMM_LEN];
	__u64 cgroup_id;
};

/* Slots of the <prog>_drops per-CPU array (its key type, so the object's BTF has the slots). */
enum process_drop {
	PROCESS_DROP_COUNTS_FULL = 0, /* a new tgid did not fit in the counts map: what it did is not counted */
	PROCESS_DROP_INFO_FULL = 1,   /* a new tgid did not fit in the procs map: its comm is unknown */
	PROCESS_DROP_EXIT_LOST = 2,   /* the exit ring was full: the user side finds the exit by its /proc sweep */
	PROCESS_DROP_MAX,
};

#endif /* EOA_PROCESS_H */
