/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Layouts shared by bpf/cpu.bpf.c and the user side. The keys, process records and exit events have the layouts
 * of bpf/syscalls.h (one kind of count, CPU_SAMPLE_KIND), so the same collector reads both.
 */
#ifndef EOA_CPU_H
#define EOA_CPU_H

#include <linux/types.h>
#include "syscalls.h"

/* The only kind of count in cpu_samples: syscall_key.syscall is always this. */
#define CPU_SAMPLE_KIND 0

/* Slots of the cpu_drops per-CPU array: the same meanings as enum syscall_drop. */

#endif /* EOA_CPU_H */
