// --log-level debug shows libbpf's own messages (object loading, relocations); other levels keep them quiet.
import { describe, expect, it } from 'vitest';
import { expectNoAgentPrograms, runAgent } from './harness.ts';

const args = ['--port', '0', '--host', '127.0.0.1', '--programs', 'syscalls'];

describe('libbpf messages', () => {
  it('--log-level debug prints them; info does not', async () => {
    const debug = await runAgent([...args, '--log-level', 'debug'], { stopWhen: /agent started/ });
    expect(debug.code, debug.stderr).toBe(0);
    expect(debug.stderr).toMatch(/^libbpf: .*syscalls/m);
    await expectNoAgentPrograms();

    const info = await runAgent(args, { stopWhen: /agent started/ });
    expect(info.code, info.stderr).toBe(0);
    expect(info.stderr).not.toMatch(/^libbpf: /m);
    await expectNoAgentPrograms();
  });
});
