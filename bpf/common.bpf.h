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

typedef struct {
	int counter;
} eoa_atomic_t;

struct signal_struct {
	eoa_atomic_t live;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
	char comm[TASK_COMM_LEN];
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

/* The process's name: the thread group leader's comm (threads may rename themselves). */
static __always_inline void eoa_process_comm(char (*out)[TASK_COMM_LEN])
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (BPF_CORE_READ_STR_INTO(out, task, group_leader, comm) < 0)
		bpf_get_current_comm(*out, TASK_COMM_LEN);
}

#endif /* EOA_COMMON_BPF_H */
