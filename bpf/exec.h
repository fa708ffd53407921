/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Layouts shared by bpf/exec.bpf.c and the user side (src/collector/exec.ts, offsets from src/bpf/layouts.ts). */
#ifndef EOA_EXEC_H
#define EOA_EXEC_H

#include <linux/types.h>

#define EXEC_COMM_LEN 16
/* Executable names, NUL included: up to 63 characters, longer ones cut (why 64: PROCESS_EXECUTABLE_LEN, process.h). */
#define EXEC_EXECUTABLE_LEN 64
#define EXEC_FILENAME_LEN 256

/* One successful execve/execveat, written to the exec_events ring buffer. Size: 448 bytes. */
struct exec_event {
	__u64 boot_ns;   /* bpf_ktime_get_boot_ns() at the exec */
	__u64 cgroup_id; /* cgroup v2 id of the task */
	__u32 pid;       /* tgid after the exec */
	__u32 ppid;      /* tgid of the real parent */
	__u32 uid;
	__u16 filename_len; /* bytes copied, including the NUL; EXEC_FILENAME_LEN means it may be truncated */
	__u16 flags;        /* enum exec_event_flag bits */
	char comm[EXEC_COMM_LEN];        /* comm after the exec */
	char parent_comm[EXEC_COMM_LEN]; /* comm of the real parent */
	/* Base name of the new executable file (what /proc/<pid>/exe now ends in); for a symlink, its target's. */
	char executable[EXEC_EXECUTABLE_LEN];
	/* Base name of the real parent's executable file; a kernel thread's comm when the parent is one. */
	char parent_executable[EXEC_EXECUTABLE_LEN];
	char filename[EXEC_FILENAME_LEN];
};

/* Bits of exec_event.flags. */
enum exec_event_flag {
	EXEC_EVENT_FROM_AGENT = 0x1, /* by the agent or a descendant (its exec handler): never handled again */
};

/* Slots of the exec_drops per-CPU array (its key type, so the object's BTF has the slots). */
enum exec_drop {
	EXEC_DROP_RINGBUF_FULL = 0,
	EXEC_DROP_DESCENDANTS_FULL = 1, /* exec_descendants was full: a descendant of the agent may not be marked */
	EXEC_DROP_MAX,
};

#endif /* EOA_EXEC_H */
