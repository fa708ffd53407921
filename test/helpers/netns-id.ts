// Prints what the tc program's pods mode reads, as JSON: the id of /proc/<pid>/ns/net (or the error) and the
// peerNetnsId of an interface. Run under setpriv by test/integration/capabilities.test.ts.
import { netnsId, networkLinks } from '../../src/bpf/index.ts';

const [pid, iface] = process.argv.slice(2);
const out: Record<string, unknown> = {};
try {
  out.id = netnsId(`/proc/${pid}/ns/net`);
} catch (error) {
  out.error = (error as { code?: string }).code ?? (error as Error).message;
}
out.peerNetnsId = networkLinks().find((l) => l.name === iface)?.peerNetnsId;
console.log(JSON.stringify(out));
