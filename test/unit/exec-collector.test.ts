// ExecCollector's (executable, parent executable) pairs: counted exactly, and bounded without losing a collected
// count.
import { describe, expect, it } from 'vitest';
import { ExecCollector, type ExecEvent } from '../../src/collector/exec.ts';

/** An exec of `executable` by `parentExecutable`; comm is what the process calls itself, not what is counted. */
function exec(executable: string, parentExecutable = 'bash', comm = executable): ExecEvent {
  return {
    timeMs: 0,
    timeNs: 0n,
    cgroupId: 0n,
    pid: 1,
    ppid: 0,
    uid: 0,
    comm,
    parentComm: 'MainThread',
    executable,
    parentExecutable,
    filename: `/usr/bin/${executable}`,
    filenameTruncated: false,
    fromAgent: false,
  };
}

const pairs = (collector: ExecCollector): [string, number][] =>
  collector.collect(0).execs.map((e) => [`${e.executable}<${e.parentExecutable}`, e.count]);

describe('ExecCollector', () => {
  it('counts execs by (executable, parent executable), whatever the comms', () => {
    const collector = new ExecCollector(() => 5);
    for (const e of [exec('ls'), exec('ls', 'bash', 'renamed'), exec('ls', 'sh'), exec('cat')]) collector.onEvent(e);
    expect(collector.collect(0).execs).toEqual([
      { executable: 'ls', parentExecutable: 'bash', count: 2, startMs: 5 },
      { executable: 'ls', parentExecutable: 'sh', count: 1, startMs: 5 },
      { executable: 'cat', parentExecutable: 'bash', count: 1, startMs: 5 },
    ]);
  });

  it('keeps at most maxPairs: a new pair replaces the least recently counted one once that one was collected', () => {
    const collector = new ExecCollector(() => 0, { maxPairs: 2 });
    collector.onEvent(exec('a'));
    collector.onEvent(exec('b'));
    collector.onEvent(exec('a')); // a is now the most recently counted
    expect(pairs(collector)).toEqual([
      ['b<bash', 1],
      ['a<bash', 2],
    ]);
    collector.onEvent(exec('c'));
    expect(pairs(collector)).toEqual([
      ['a<bash', 2],
      ['c<bash', 1],
    ]);
    expect(collector.drops().mapFull.exec_pairs).toBe(0);
  });

  it('counts a drop, and still tells its listeners, when every pair counted since the last collection', () => {
    const collector = new ExecCollector(() => 0, { maxPairs: 2 });
    const heard: string[] = [];
    collector.subscribe((e) => heard.push(e.comm));
    collector.onEvent(exec('a'));
    collector.onEvent(exec('b'));
    collector.onEvent(exec('c'));
    collector.onEvent(exec('a'));
    expect(heard).toEqual(['a', 'b', 'c', 'a']);
    expect(pairs(collector)).toEqual([
      ['b<bash', 1],
      ['a<bash', 2],
    ]);
    expect(collector.drops().mapFull).toEqual({ exec_descendants: 0, exec_pairs: 1 });
  });

  it('stays bounded under churn of distinct pairs', () => {
    const collector = new ExecCollector(() => 0, { maxPairs: 100 });
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) collector.onEvent(exec(`p${round}-${i}`));
      expect(collector.collect(0).execs).toHaveLength(100);
    }
    expect(collector.drops().mapFull.exec_pairs).toBe(0);
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => new ExecCollector(Date.now, { maxPairs: 0 })).toThrow(/maxPairs/);
  });
});
