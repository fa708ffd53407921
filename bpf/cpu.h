/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Layouts shared by bpf/cpu.bpf.c and the user side. cpu_samples is keyed by tgid like syscall_counts, with one
 * counter per process (a value of one u64 lane instead of SYSCALL_MAX); process records and exit events have the
 * layouts of bpf/syscalls.h, so the same collector reads both.
 */
#ifndef EOA_CPU_H
#define EOA_CPU_H

#include <linux/types.h>
#include "syscalls.h"

/* Slots of the cpu_drops per-CPU array: the same meanings as enum syscall_drop. */

#endif /* EOA_CPU_H */
