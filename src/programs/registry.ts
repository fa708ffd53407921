// Every program the agent can run, by name. Adding a program: its bpf/<name>.bpf.c and .h, its descriptor in
// this directory, its name in PROGRAM_NAMES (src/collector/types.ts) and one line here — the mapped type below
// makes a name without a descriptor (or the reverse) a compile error.
import type { ProgramName } from '../collector/types.ts';
import { PROGRAM_NAMES } from '../collector/types.ts';
import { cpu } from './cpu.ts';
import { exec } from './exec.ts';
import { syscalls } from './syscalls.ts';
import type { ProgramDescriptor } from './types.ts';
import { xdp } from './xdp.ts';

export const PROGRAMS: { readonly [P in ProgramName]: ProgramDescriptor<P> } = { exec, syscalls, xdp, cpu };

/** The descriptors of these programs, in the order given. */
export function descriptors(names: readonly ProgramName[]): ProgramDescriptor[] {
  return names.map((name) => PROGRAMS[name] as ProgramDescriptor);
}

export { PROGRAM_NAMES };
