// Writes a benchmark's results into docs/benchmarks.md, between the markers
// `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`, so every `npm run bench:*` refreshes its own table in place
// and the rest of the document (method, analysis) stays as written. The text is printed as well.
// BENCH_NO_WRITE=1 only prints.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';

export const DOC = path.resolve(import.meta.dirname, '..', '..', 'docs', 'benchmarks.md');

/** A markdown table from a header row and data rows; cells are written as given. */
export function table(header: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/**
 * Replaces the section NAME of docs/benchmarks.md with `body` (stamped with the date and machine), formatted as
 * `npm run lint` expects.
 */
export async function writeSection(name: string, body: string): Promise<void> {
  const stamped = `${body.trimEnd()}\n\n_${stamp()}_`;
  console.log(`\n${stamped}\n`);
  if (process.env.BENCH_NO_WRITE === '1') return;
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const doc = readFileSync(DOC, 'utf8');
  const start = doc.indexOf(open);
  const end = doc.indexOf(close);
  if (start < 0 || end < start) {
    console.error(`${DOC} has no ${open} … ${close} section: results printed only`);
    return;
  }
  const options = (await prettier.resolveConfig(DOC)) ?? {};
  const next = await prettier.format(`${doc.slice(0, start + open.length)}\n${stamped}\n${doc.slice(end)}`, {
    ...options,
    filepath: DOC,
  });
  const tmp = `${DOC}.${process.pid}.tmp`;
  writeFileSync(tmp, next);
  renameSync(tmp, DOC);
  console.log(`wrote section ${name} of ${path.relative(process.cwd(), DOC)}`);
}

function stamp(): string {
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  return `Measured ${date} UTC by \`${process.argv
    .slice(1)
    .map((a) => path.basename(a))
    .join(' ')}\`, Node ${process.versions.node}`;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Resident set size of a process in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

/** User + system CPU seconds a process has used, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return ticks / 100; // USER_HZ is 100 on Linux
}
