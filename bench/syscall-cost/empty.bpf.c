// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The floor of bench/syscall-cost: a program that does nothing, on the read entry tracepoint. */
#include "../../bpf/common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tracepoint/syscalls/sys_enter_read")
int bench_empty(void *ctx)
{
	return 0;
}
