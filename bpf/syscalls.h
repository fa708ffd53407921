/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Layouts shared by bpf/syscalls.bpf.c and the user side (src/collector/syscalls.ts decodes them). */
#ifndef EOA_SYSCALLS_H
#define EOA_SYSCALLS_H

#include <linux/types.h>

#define SYSCALLS_COMM_LEN 16

/* The syscalls counted; the value is the `syscall` field of the key. */
enum counted_syscall {
	SYSCALL_OPENAT = 0,
	SYSCALL_READ = 1,
	SYSCALL_WRITE = 2,
	SYSCALL_CONNECT = 3,
	SYSCALL_MAX,
};

/* Value of syscall_counts (per-CPU hash keyed by __u32 tgid): calls by counted_syscall. Size: 32 bytes.
 * One entry per process rather than per (process, syscall): a poll reads a quarter of the entries, and the
 * kernel's batch read costs per entry far more than per byte (bench/poll-floor). */
struct syscall_counts {
	__u64 calls[SYSCALL_MAX];
};

/* Value of syscall_procs (hash keyed by __u32 tgid): the process as the kernel last saw it. Size: 24 bytes. */
struct syscall_proc {
	char comm[SYSCALLS_COMM_LEN];
	__u64 cgroup_id; /* cgroup v2 id at the first counted call or the last exec */
};

/* A process (thread group) ended; written to the proc_exits ring buffer. Size: 40 bytes. */
struct proc_exit_event {
	__u64 boot_ns;
	__u32 tgid;
	__u32 _pad;
	char comm[SYSCALLS_COMM_LEN];
	__u64 cgroup_id;
};

/* Slots of the syscall_drops per-CPU array. */
enum syscall_drop {
	SYSCALL_DROP_COUNTS_FULL = 0, /* a new tgid did not fit in syscall_counts: its calls are not counted */
	SYSCALL_DROP_PROCS_FULL = 1,  /* a new tgid did not fit in syscall_procs: its comm is unknown */
	SYSCALL_DROP_EXIT_LOST = 2,   /* proc_exits was full: the user side finds the exit by its /proc sweep */
	SYSCALL_DROP_MAX,
};

#endif /* EOA_SYSCALLS_H */
