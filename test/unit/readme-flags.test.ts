// README.md's flags table is the flag table (src/flags.ts) and --help: the same flags in the same order, each
// with its default. The meaning column is the README's own prose (with links and examples), only required.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildParser } from '../../src/cli.ts';
import { FLAGS, docDefault, type FlagSpec } from '../../src/flags.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The rows of the table in the README's "## Flags" section: flag, default, meaning. */
function readmeRows(): { flag: string; default: string; meaning: string }[] {
  const section = /^## Flags\n([\s\S]*?)^## /m.exec(README)?.[1];
  expect(section, 'README.md has a "## Flags" section').toBeDefined();
  const rows = section!
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );
  expect(rows[0]).toEqual(['flag', 'default', 'meaning']);
  return rows.slice(2).map(([flag, def, meaning]) => ({ flag: flag!, default: def!, meaning: meaning! }));
}

describe("README.md's flags table", () => {
  it('lists every flag of the table, in its order, one per row', () => {
    expect(readmeRows().map((row) => row.flag)).toEqual(FLAGS.map((f) => `\`--${f.name}\``));
  });

  it.each(FLAGS.map((f) => [f.name, f] as [string, FlagSpec]))('gives the default of --%s', (name, spec) => {
    const row = readmeRows().find((r) => r.flag === `\`--${name}\``);
    expect(row?.default).toBe(docDefault(spec));
    expect(row?.meaning.length).toBeGreaterThan(0);
  });

  it('lists what --help lists, apart from --help and --version', async () => {
    const help = await buildParser([], {}).getHelp();
    const helpFlags = [...help.matchAll(/^ {2}(--[a-z-]+)/gm)]
      .map((m) => m[1]!)
      .filter((f) => f !== '--help' && f !== '--version');
    expect(new Set(helpFlags)).toEqual(new Set(readmeRows().map((row) => row.flag.replace(/`/g, ''))));
  });
});
