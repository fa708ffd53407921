/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Layouts shared by bpf/syscalls.bpf.c and the user side (src/collector/syscalls.ts). The process info, exit
 * event and drop slots are those of bpf/process.h.
 */
#ifndef EOA_SYSCALLS_H
#define EOA_SYSCALLS_H

#include <linux/types.h>
#include "process.h"

/* The syscalls counted: lanes of struct syscall_counts. The user side's label values are these names. */
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

#endif /* EOA_SYSCALLS_H */
