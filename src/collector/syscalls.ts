// syscalls: per-process counts of openat, read, write and connect (bpf/syscalls.bpf.c). The processes are tracked
// as the cpu program's are: ProcessCollector and KernelProcessSource (./process.ts) read both.
import { COUNTED_SYSCALL, SYSCALL_COUNTS, SYSCALLS_MAP_SIZES } from '../bpf/layouts.ts';
import { KernelProcessSource, type KernelProcessSourceOptions, type ProcessObject } from './process.ts';

/** The counted syscalls, in the order of struct syscall_counts' lanes (enum counted_syscall, bpf/syscalls.h). */
export const SYSCALL_NAMES = COUNTED_SYSCALL.names;
export type SyscallName = (typeof SYSCALL_NAMES)[number];

/** bpf/syscalls.bpf.o: its maps and the programs attached. */
export const SYSCALLS_OBJECT: ProcessObject = {
  maps: { counts: 'syscall_counts', procs: 'syscall_procs' },
  exits: 'proc_exits',
  cgroups: 'syscall_cgroups',
  drops: 'syscall_drops',
  infoWrites: 'syscall_info_writes',
  programs: ['eoa_sys_enter', 'eoa_sys_exec', 'eoa_sys_exit', 'eoa_sys_cgroup_mkdir'],
  sizes: SYSCALLS_MAP_SIZES,
};

// syscall_counts is keyed by a u32 tgid; its value is struct syscall_counts (one u64 lane per counted syscall).
export const COUNTS_KEY_SIZE = SYSCALLS_MAP_SIZES.syscall_counts.keySize;
export const SYSCALL_COUNTS_SIZE = SYSCALL_COUNTS.size;

export type KernelSourceOptions = KernelProcessSourceOptions;

/** The real source: loads bpf/syscalls.bpf.o and attaches its programs. Nothing stays attached on failure. */
export class KernelSyscallSource extends KernelProcessSource {
  constructor(options: KernelSourceOptions) {
    super(SYSCALLS_OBJECT, options);
  }
}

// The names src/agent.ts, src/collector/series.ts and bench/poll.ts still import from here.
export { ProcessCollector as SyscallCollector, decodeCounts } from './process.ts';
export type { ProcessCounts as ProcessSyscalls, ProcessSnapshot as SyscallSnapshot } from './process.ts';
