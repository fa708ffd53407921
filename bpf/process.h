/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Layouts of process tracking, shared by the programs that count per process (syscalls, cpu) and the user side
 * (src/collector/process.ts decodes them with the offsets src/bpf/layouts.ts takes from the objects' BTF).
 * Each such program keys its counts by __u32 tgid and keeps, next to them, the process's info and an exit ring.
 */
#ifndef EOA_PROCESS_H
#define EOA_PROCESS_H

#include <linux/types.h>

/*
 * Bytes for a process's executable name, its NUL included: names up to 63 characters fit, longer ones are cut to
 * 63. Names of that length are common on Kubernetes nodes (containerd-shim-runc-v2 has 23 characters,
 * secrets-store-csi-driver-provider-gcp 37) and 32 bytes would cut some; 64 costs 48 bytes more per tracked process
 * than a comm, 4.8 MB at 100,000 processes.
 */
#define PROCESS_EXECUTABLE_LEN 64

/* Value of the <prog>_procs hash (keyed by __u32 tgid): the process as the kernel last saw it. Size: 72 bytes. */
struct process_info {
	/* Base name of the executable file (/proc/<pid>/exe) at the first count or the last exec; comm for a kernel
	 * thread. */
	char executable[PROCESS_EXECUTABLE_LEN];
	__u64 cgroup_id; /* cgroup v2 id at the first count or the last exec */
};

/* A process (thread group) ended; written to the program's exit ring buffer. Size: 88 bytes. */
struct process_exit_event {
	__u64 boot_ns;
	__u32 tgid;
	__u32 _pad;
	char executable[PROCESS_EXECUTABLE_LEN]; /* as in its process_info */
	__u64 cgroup_id;
};

/*
 * Bytes for a cgroup's path in a struct process_cgroup_event, its NUL included. A Kubernetes container's cgroup v2
 * path is about 150 characters (kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/
 * cri-containerd-<64 hex>.scope); a longer path arrives cut and is not used (the tree walk resolves it while it
 * exists).
 */
#define PROCESS_CGROUP_PATH_LEN 256

/*
 * A cgroup v2 cgroup was created (cgroup:cgroup_mkdir); written to the program's cgroup ring buffer. The user side
 * learns id → path from it, so a process that lives and dies in a cgroup removed before the next poll (a short
 * job in its own container) is still attributed to its container and pod. Size: 264 bytes.
 */
struct process_cgroup_event {
	__u64 id;			     /* what bpf_get_current_cgroup_id() returns for a task in it */
	char path[PROCESS_CGROUP_PATH_LEN]; /* from the hierarchy's root, "/kubepods/..."; NUL-terminated */
};

/* Slots of the <prog>_drops per-CPU array (its key type, so the object's BTF has the slots). */
enum process_drop {
	PROCESS_DROP_COUNTS_FULL = 0, /* a new tgid did not fit in the counts map: what it did is not counted */
	PROCESS_DROP_INFO_FULL = 1,   /* a new tgid did not fit in the procs map: its executable name is unknown */
	PROCESS_DROP_EXIT_LOST = 2,   /* the exit ring was full: the user side finds the exit by its /proc sweep */
	PROCESS_DROP_CGROUP_LOST = 3, /* the cgroup ring was full: a cgroup gone before the next poll is unattributed */
	PROCESS_DROP_EXITING = 4,     /* the first count of a process came while it was exiting: not counted, as no
				       * exit event would follow to clean its entry up (a CPU sample in do_exit()) */
	PROCESS_DROP_MAX,
};

#endif /* EOA_PROCESS_H */
