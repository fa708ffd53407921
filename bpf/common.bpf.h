/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Small local views of the kernel types the programs read. preserve_access_index makes every field access a
 * CO-RE relocation resolved against the running kernel's BTF, so only the fields used are declared here instead
 * of a multi-megabyte generated vmlinux.h.
 */
#ifndef EOA_COMMON_BPF_H
#define EOA_COMMON_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <asm-generic/errno-base.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define EOA_PF_KTHREAD 0x00200000 /* task_struct.flags: a kernel thread (it may borrow a user mm) */
#define EOA_PF_EXITING 0x00000004 /* task_struct.flags: the task is in do_exit() */

typedef struct {
	int counter;
} eoa_atomic_t;

struct signal_struct {
	eoa_atomic_t live;
} __attribute__((preserve_access_index));

/* task → mm → exe_file → f_path.dentry → d_name.name: the executable file's name, what /proc/<pid>/exe ends in. */
struct qstr {
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry {
	struct qstr d_name;
} __attribute__((preserve_access_index));

struct path {
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct file {
	struct path f_path;
} __attribute__((preserve_access_index));

struct mm_struct {
	struct file *exe_file;
} __attribute__((preserve_access_index));

struct task_struct {
	unsigned int flags;
	int pid;
	int tgid;
	char comm[TASK_COMM_LEN];
	struct mm_struct *mm;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct signal_struct *signal;
} __attribute__((preserve_access_index));

/* Adds one to slot `idx` of a per-CPU u64 array used as a drop counter. */
static __always_inline void eoa_count_drop(void *map, __u32 idx)
{
	__u64 *slot = bpf_map_lookup_elem(map, &idx);

	if (slot)
		*slot += 1;
}

/*
 * The base name of the executable file of `task`'s process (OpenTelemetry's process.executable.name: on Linux the
 * target of /proc/<pid>/exe, never a thread's name) into `out` of `size` bytes, cut to size - 1 bytes. Returns
 * false, leaving `out` to the caller, when there is none: a kernel thread, or a task without an mm (it has exited)
 * or without an executable file. The threads of a process share its mm, so any of them gives the process's name.
 */
static __always_inline bool eoa_task_executable(struct task_struct *task, char *out, __u32 size)
{
	const unsigned char *name;

	if (BPF_CORE_READ(task, flags) & EOA_PF_KTHREAD)
		return false;
	/* A NULL link (no mm, no exe_file) makes every later read of the chain fail: name is then NULL. */
	name = BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);
	return name && bpf_probe_read_kernel_str(out, size, name) > 1;
}

/*
 * The name a process is counted under: its executable's base name (eoa_task_executable), or, for a kernel thread
 * (or a task without an executable file), the kernel's name for it: the thread group leader's comm (threads may
 * rename themselves; a kernel thread's comm is its name).
 */
static __always_inline void eoa_named_executable(struct task_struct *task, char *out, __u32 size)
{
	struct task_struct *leader;

	if (eoa_task_executable(task, out, size))
		return;
	leader = BPF_CORE_READ(task, group_leader);
	/* `size` is at least TASK_COMM_LEN (every caller's is): comm, NUL included, always fits. */
	if (bpf_core_read_str(out, TASK_COMM_LEN, &leader->comm) < 0)
		bpf_core_read_str(out, TASK_COMM_LEN, &task->comm);
}

/* eoa_named_executable of the current process. */
static __always_inline void eoa_process_executable(char *out, __u32 size)
{
	eoa_named_executable((struct task_struct *)bpf_get_current_task(), out, size);
}

#endif /* EOA_COMMON_BPF_H */
