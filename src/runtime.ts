// V8 settings for a long-running agent whose heap is small and steady: a 1 MiB young generation (the default grows
// to 16 MiB per semi-space on allocation bursts and stays committed) and one background V8 thread: about 17 MiB
// less resident memory at 1k series, for no measurable poll time (docs/benchmarks.md). V8's --optimize-for-size
// was the third until it was measured alone: the same idle RSS without it (81–82 MiB against 81–89), less CPU,
// and at 400,000 series its heap heuristics made a garbage collection of the whole heap in the OTLP encoding and
// the /metrics text of every poll. The agent re-executes itself with them unless the user set any of them.
export const V8_FLAGS = ['--max-semi-space-size=1', '--v8-pool-size=1'] as const;

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
