/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Layouts of the exits program (bpf/exits.bpf.c), shared with the user side (src/collector/exits.ts decodes them
 * with the offsets src/bpf/layouts.ts takes from the object's BTF).
 */
#ifndef EOA_EXITS_H
#define EOA_EXITS_H

#include <linux/types.h>
#include "process.h"

/* What ended a process: how wait(2) would report it. */
enum exit_reason {
	EXIT_REASON_EXITED = 0,	  /* exit(2)/exit_group(2) or return from main: `code_nonzero` says 0 or not */
	EXIT_REASON_SIGNALED = 1, /* killed by `signal`, `core_dumped` when a core dump was written */
};

/*
 * Key of the exits_counts hash (value: __u64 exits): one per cgroup, executable, way of ending and generation.
 * Counted in the kernel, so the count is exact whatever the poll interval and however many exits come at once.
 * `generation` is exits_generation's value when the exit was counted: the user side flips it at every poll and, at
 * the next poll, reads the keys of the generation before for the last time and deletes them (no exit counts into
 * them any more), so the map holds only the keys of about two poll intervals. Size: 80 bytes.
 */
struct exit_key {
	__u64 cgroup_id;			 /* cgroup v2 id of the exiting process */
	char executable[PROCESS_EXECUTABLE_LEN]; /* as process tracking names it (eoa_process_executable) */
	__u8 reason;				 /* enum exit_reason */
	__u8 signal;				 /* the killing signal's number; 0 when exited */
	__u8 code_nonzero;			 /* exited with a status other than 0 */
	__u8 core_dumped;			 /* signaled, and a core dump was written */
	__u8 oom_killed;			 /* the OOM killer chose it (signal->oom_mm was set) */
	__u8 generation;			 /* 0 or 1: exits_generation when counted */
	__u8 _pad[2];
};

/*
 * One process end, on the exits_events ring buffer when the user side asks for events (exit_events: the OTLP logs).
 * The counts above never depend on it: a full ring loses the event (counted), not the count. Size: 112 bytes.
 */
struct exit_event {
	__u64 boot_ns;				 /* bpf_ktime_get_boot_ns() at the exit */
	__u64 start_boot_ns;			 /* the thread group leader's start_boottime: the process's start */
	__u64 cgroup_id;
	__u32 tgid;
	__u32 ppid;				 /* the real parent's tgid */
	__u32 uid;				 /* real uid */
	__s32 wait_status;			 /* as wait(2) reports it: status << 8, or the signal | 0x80 for a core dump */
	__u8 oom_killed;
	__u8 _pad[7];
	char executable[PROCESS_EXECUTABLE_LEN];
};

#endif /* EOA_EXITS_H */
