import { describe, expect, it } from 'vitest';
import { MALLOC_ENV, mallocOptions, reexecArgs, reexecEnv, V8_FLAGS } from '../../src/runtime.ts';

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

describe('reexecEnv', () => {
  it('adds the malloc settings and keeps the rest of the environment', () => {
    expect(reexecEnv({ PATH: '/bin', HOME: '/root' })).toEqual({ PATH: '/bin', HOME: '/root', ...MALLOC_ENV });
  });

  it("leaves a user's own malloc settings alone", () => {
    const env = reexecEnv({ MALLOC_ARENA_MAX: '4' });
    expect(env.MALLOC_ARENA_MAX).toBe('4');
    expect(env.MALLOC_MMAP_THRESHOLD_).toBe(MALLOC_ENV.MALLOC_MMAP_THRESHOLD_);
  });
});

describe('mallocOptions', () => {
  it('makes at run time the malloc settings the environment lacks (the agent was not re-executed)', () => {
    expect(mallocOptions({})).toEqual([
      ['arena_max', 1],
      ['mmap_threshold', 65536],
      ['trim_threshold', 65536],
    ]);
  });

  it('makes none in the re-executed agent, and leaves a variable the user set alone', () => {
    expect(mallocOptions(reexecEnv({}))).toEqual([]);
    expect(mallocOptions({ MALLOC_ARENA_MAX: '4' })).toEqual([
      ['mmap_threshold', 65536],
      ['trim_threshold', 65536],
    ]);
    expect(Object.keys(MALLOC_ENV)).toHaveLength(3);
  });
});
