// Every program the agent can run, by name. Adding a program is its bpf/<name>.bpf.c and .h, its descriptor in
// this directory and one line here (docs/adding-a-program.md): ProgramName, --programs, preflight, readiness and
// --help all follow from this table, and a descriptor filed under another name than its own does not compile.
import { cpu } from './cpu.ts';
import { exec } from './exec.ts';
import { exits } from './exits.ts';
import { syscalls } from './syscalls.ts';
import { tc } from './tc.ts';
import { tcp } from './tcp.ts';
import type { ProgramDescriptor } from './types.ts';
import { xdp } from './xdp.ts';

const REGISTRY = { exec, syscalls, xdp, tc, cpu, tcp, exits };

export type ProgramName = keyof typeof REGISTRY;

export const PROGRAMS: { readonly [P in ProgramName]: ProgramDescriptor<P> } = REGISTRY;

/** Every program name, in the registry's order. */
export const PROGRAM_NAMES = Object.keys(PROGRAMS) as readonly ProgramName[];
