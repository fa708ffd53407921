// The README's metrics table is the metric table (src/export/descriptors.ts) in Prometheus terms: one row per
// metric with its family name, type, labels, program and description, in table order. When a metric changes, the
// failure message holds the rows to paste into README.md (then `npm run format`).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_METRICS, type MetricDescriptor } from '../../src/export/descriptors.ts';
import { prometheusLabel, prometheusNameOf, prometheusTypeOf } from '../../src/export/prometheus.ts';

const HEADER = ['metric', 'type', 'labels', 'program', 'description'];

const code = (s: string): string => `\`${s}\``;

/** The README row of a table entry, cell by cell. */
function readmeRow(d: MetricDescriptor): string[] {
  const required = d.attributes.map((a) => code(prometheusLabel(a))).join(', ');
  const whereKnown = (d.whereKnown ?? []).map((a) => code(prometheusLabel(a))).join(', ');
  const labels = [required, whereKnown === '' ? '' : `${whereKnown} where known`].filter((s) => s !== '').join('; ');
  // A {flag-name} placeholder (filled with the flag's value in HELP) reads as the flag.
  const description = d.description
    .replace(/\{([\w-]+)\}/g, (_, flag: string) => code(`--${flag}`))
    .replaceAll('|', '\\|');
  return [code(prometheusNameOf(d)), prometheusTypeOf(d), labels === '' ? '—' : labels, d.program, description];
}

/** The rows of the first table after `## Metrics`, header and separator left out. */
function readmeRows(readme: string): string[][] {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Metrics\n'));
  if (section === undefined) throw new Error('README.md has no "## Metrics" section');
  const lines = section.split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const table: string[] = [];
  for (let i = start; i >= 0 && i < lines.length && lines[i]!.startsWith('|'); i++) table.push(lines[i]!);
  return table.map((l) =>
    l
      .replace(/^\|/, '')
      .replace(/\|$/, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim()),
  );
}

describe('README.md metrics table', () => {
  const rows = readmeRows(readFileSync(path.join(import.meta.dirname, '..', '..', 'README.md'), 'utf8'));

  it('has the columns metric, type, labels, program, description', () => {
    expect(rows[0]).toEqual(HEADER);
  });

  it('lists every metric of the table, as the table says, in its order', () => {
    const expected = ALL_METRICS.map(readmeRow);
    const markdown = [HEADER, HEADER.map(() => '---'), ...expected].map((r) => `| ${r.join(' | ')} |`).join('\n');
    expect(rows.slice(2), `README.md's metrics table should be:\n${markdown}\n`).toEqual(expected);
  });
});
