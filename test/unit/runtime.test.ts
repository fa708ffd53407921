import { describe, expect, it } from 'vitest';
import { reexecArgs, V8_FLAGS } from '../../src/runtime.ts';

describe('reexecArgs', () => {
  it('re-executes with the V8 flags first, keeping the user flags, the script and its arguments', () => {
    expect(reexecArgs('/bin/node', ['--inspect'], ['/bin/node', '/app/dist/cli.js', '--port', '0'])).toEqual([
      '/bin/node',
      ...V8_FLAGS,
      '--inspect',
      '/app/dist/cli.js',
      '--port',
      '0',
    ]);
  });

  it('does not re-execute once the flags are set (no loop)', () => {
    const again = reexecArgs('/bin/node', [], ['/bin/node', 'cli.js'])!;
    expect(reexecArgs('/bin/node', again.slice(1, -1), ['/bin/node', 'cli.js'])).toBeUndefined();
  });

  it("leaves a user's own tuning alone, from the command line or NODE_OPTIONS", () => {
    expect(reexecArgs('/bin/node', ['--max-semi-space-size=16'], ['/bin/node', 'cli.js'])).toBeUndefined();
    expect(reexecArgs('/bin/node', ['--v8_pool_size=2'], ['/bin/node', 'cli.js'])).toBeUndefined();
    expect(
      reexecArgs('/bin/node', [], ['/bin/node', 'cli.js'], '--max-old-space-size=100 --v8-pool-size=4'),
    ).toBeUndefined();
    expect(reexecArgs('/bin/node', [], ['/bin/node', 'cli.js'], '--max-old-space-size=100')).toBeDefined();
  });
});
