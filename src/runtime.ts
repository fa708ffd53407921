// V8 settings for a long-running agent whose heap is small and steady: a 1 MiB young generation (the default grows
// to 16 MiB per semi-space on allocation bursts and stays committed) and one background V8 thread: about 17 MiB
// less resident memory at 1k series, for no measurable poll time (docs/benchmarks.md). V8's --optimize-for-size
// was the third until it was measured alone: the same idle RSS without it (81–82 MiB against 81–89), less CPU,
// and at 400,000 series its heap heuristics made a garbage collection of the whole heap in the OTLP encoding and
// the /metrics text of every poll. The agent re-executes itself with them unless the user set any of them.
export const V8_FLAGS = ['--max-semi-space-size=1', '--v8-pool-size=1'] as const;

// glibc malloc settings, set in the re-executed agent's environment (glibc reads them only at start-up) unless the
// user set the variable: one arena (the threads besides the main one — libuv's pool for gzip and the one V8
// worker — allocate little, and each further arena keeps its own free pages), and a fixed 64 KiB mmap threshold,
// so the large buffers of a poll (map batch reads, /metrics bodies) are given back to the kernel when freed. By
// default the threshold climbs to the largest block freed so far (up to 32 MiB), after which such buffers come
// from the heap, whose freed pages stay resident. Measured with 2,500 live processes: 97 MiB instead of 104–105.
export const MALLOC_ENV = {
  MALLOC_ARENA_MAX: '1',
  MALLOC_MMAP_THRESHOLD_: '65536',
  MALLOC_TRIM_THRESHOLD_: '65536',
} as const;

/** glibc's names (mallopt) of the settings in MALLOC_ENV. */
const MALLOPT_NAMES: Record<keyof typeof MALLOC_ENV, string> = {
  MALLOC_ARENA_MAX: 'arena_max',
  MALLOC_MMAP_THRESHOLD_: 'mmap_threshold',
  MALLOC_TRIM_THRESHOLD_: 'trim_threshold',
};

/**
 * The malloc settings to make at run time (mallopt), by glibc name: those of MALLOC_ENV whose variable the
 * environment lacks. Empty in the re-executed agent (glibc read them at its start); without the re-execution (a
 * user's own V8 flags) the defaults would be glibc's, whose mmap threshold climbs: measured with 100,000 live
 * processes, a 70 MiB malloc heap instead of 10.
 */
export function mallocOptions(env: NodeJS.ProcessEnv): [name: string, value: number][] {
  const out: [string, number][] = [];
  for (const [variable, value] of Object.entries(MALLOC_ENV) as [keyof typeof MALLOC_ENV, string][]) {
    if (env[variable] === undefined) out.push([MALLOPT_NAMES[variable], Number(value)]);
  }
  return out;
}

/** The environment to re-execute with: the malloc settings added where the user's environment has none. */
export function reexecEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [name, value] of Object.entries(MALLOC_ENV)) out[name] ??= value;
  return out;
}

const names = V8_FLAGS.map((flag) => flag.split('=')[0]!);

/**
 * The arguments to re-execute Node with (argv[0] first), or undefined when the process already runs with one of
 * the flags, from the command line or NODE_OPTIONS: a user's own tuning wins, and it stops the re-execution.
 */
export function reexecArgs(
  execPath: string,
  execArgv: string[],
  argv: string[],
  nodeOptions = '',
): string[] | undefined {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map((arg) => arg.split('=')[0]!.replace(/_/g, '-'));
  if (names.some((name) => given.includes(name))) return undefined;
  return [execPath, ...V8_FLAGS, ...execArgv, ...argv.slice(1)];
}
