// createLogger (src/log.ts) with an injected writer and clock.
import { describe, expect, it } from 'vitest';
import { createLogger, LOG_LEVELS, silentLogger, type LogFormat, type LogLevel } from '../../src/log.ts';

const TIME = new Date('2026-01-02T03:04:05.678Z');

function capture(level: LogLevel, format: LogFormat = 'text') {
  const lines: string[] = [];
  const logger = createLogger(
    level,
    format,
    (line) => lines.push(line),
    () => TIME,
  );
  return { logger, lines };
}

describe('createLogger level filtering', () => {
  it.each([
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['error', ['error']],
  ] as [LogLevel, LogLevel[]][])('at %s writes %j', (level, written) => {
    const { logger, lines } = capture(level, 'json');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(lines.map((line) => (JSON.parse(line) as { level: string }).level)).toEqual(written);
  });

  it('knows the four levels in order', () => {
    expect(LOG_LEVELS).toEqual(['debug', 'info', 'warn', 'error']);
  });
});

describe('createLogger JSON format', () => {
  it('writes one JSON object per line with the fields, then time, level and msg', () => {
    const { logger, lines } = capture('debug', 'json');
    logger.info('agent started', { programs: 'exec,syscalls', interval_ms: 5000, ok: true, nested: { a: [1, 2] } });
    expect(lines).toEqual([
      '{"programs":"exec,syscalls","interval_ms":5000,"ok":true,"nested":{"a":[1,2]},"time":"2026-01-02T03:04:05.678Z","level":"info","msg":"agent started"}\n',
    ]);
  });

  it('keeps its own time, level and msg over fields of the same names', () => {
    const { logger, lines } = capture('debug', 'json');
    logger.warn('real', { level: 'debug', a: 1, msg: 'fake', time: 'yesterday' });
    // A field that names a record key keeps its position but takes the record's value.
    expect(lines).toEqual(['{"level":"warn","a":1,"msg":"real","time":"2026-01-02T03:04:05.678Z"}\n']);
    expect(JSON.parse(lines[0]!)).toEqual({ level: 'warn', a: 1, msg: 'real', time: '2026-01-02T03:04:05.678Z' });
  });

  it('cannot be made to log below its level or under another message by fields', () => {
    const { logger, lines } = capture('info', 'json');
    logger.error('disk full', { level: 'info', msg: 'all good' });
    logger.info('x', { time: 0 });
    expect(lines).toEqual([
      '{"level":"error","msg":"disk full","time":"2026-01-02T03:04:05.678Z"}\n',
      '{"time":"2026-01-02T03:04:05.678Z","level":"info","msg":"x"}\n',
    ]);
  });

  it('writes just time, level and msg without fields, and escapes the message', () => {
    const { logger, lines } = capture('debug', 'json');
    logger.error('poll "failed"\nbadly');
    expect(lines).toEqual(['{"time":"2026-01-02T03:04:05.678Z","level":"error","msg":"poll \\"failed\\"\\nbadly"}\n']);
    expect(JSON.parse(lines[0]!)).toEqual({
      time: '2026-01-02T03:04:05.678Z',
      level: 'error',
      msg: 'poll "failed"\nbadly',
    });
  });

  it('reads the clock on every line', () => {
    let ms = Date.UTC(2026, 0, 1);
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      'json',
      (line) => lines.push(line),
      () => new Date((ms += 1000)),
    );
    logger.info('a');
    logger.info('b');
    expect(lines.map((line) => (JSON.parse(line) as { time: string }).time)).toEqual([
      '2026-01-01T00:00:01.000Z',
      '2026-01-01T00:00:02.000Z',
    ]);
  });
});

describe('createLogger text format', () => {
  it('writes time, padded level, message and key=value fields', () => {
    const { logger, lines } = capture('debug');
    logger.info('agent started', { programs: 'exec,syscalls', interval_ms: 5000 });
    logger.warn('OTLP export failed', { failures: 1, error: 'connect ECONNREFUSED 127.0.0.1:4318' });
    logger.error('poll failed');
    logger.debug('x', { ok: true, missing: undefined, none: null });
    expect(lines).toEqual([
      '2026-01-02T03:04:05.678Z INFO  agent started programs=exec,syscalls interval_ms=5000\n',
      '2026-01-02T03:04:05.678Z WARN  OTLP export failed failures=1 error="connect ECONNREFUSED 127.0.0.1:4318"\n',
      '2026-01-02T03:04:05.678Z ERROR poll failed\n',
      '2026-01-02T03:04:05.678Z DEBUG x ok=true missing=undefined none=null\n',
    ]);
  });

  it('quotes string values with whitespace and JSON-encodes objects', () => {
    const { logger, lines } = capture('info');
    logger.info('m', { path: '/sys/kernel/tracing', words: 'two words', tab: 'a\tb', list: ['a', 'b'] });
    expect(lines).toEqual([
      '2026-01-02T03:04:05.678Z INFO  m path=/sys/kernel/tracing words="two words" tab="a\\tb" list=["a","b"]\n',
    ]);
  });

  it('prints a string bare only when it has no whitespace, =, " or backslash, and JSON-quotes it otherwise', () => {
    const { logger, lines } = capture('info');
    logger.info('m', {
      empty: '',
      eq: 'a=b',
      quote: 'say "hi"',
      backslash: 'C:\\x',
      newline: 'a\nb',
      nbsp: 'a\u00a0b',
      unicode: 'cürl',
      url: 'http://localhost:4318/v1/metrics?x',
      dash: '-',
      number: '42',
    });
    expect(lines).toEqual([
      '2026-01-02T03:04:05.678Z INFO  m empty="" eq="a=b" quote="say \\"hi\\"" backslash="C:\\\\x" newline="a\\nb" nbsp="a\u00a0b" unicode=cürl url=http://localhost:4318/v1/metrics?x dash=- number=42\n',
    ]);
  });

  it('prints fields named time, level or msg as fields in text format', () => {
    const { logger, lines } = capture('info');
    logger.warn('real', { level: 'debug', msg: 'fake' });
    expect(lines).toEqual(['2026-01-02T03:04:05.678Z WARN  real level=debug msg=fake\n']);
  });

  it('filters by level in text format too', () => {
    const { logger, lines } = capture('error');
    logger.warn('no');
    logger.error('yes');
    expect(lines).toEqual(['2026-01-02T03:04:05.678Z ERROR yes\n']);
  });
});

describe('silentLogger', () => {
  it('accepts every call and writes nothing', () => {
    expect(() => {
      silentLogger.debug('a');
      silentLogger.info('b', { x: 1 });
      silentLogger.warn('c');
      silentLogger.error('d');
    }).not.toThrow();
  });
});
