// Generates src/bpf/layouts.ts from the BTF of the built BPF objects (bpftool btf dump … format raw -j): the
// sizes and field offsets of the structs the user side decodes, the enums' values (lanes, label orders, flag
// bits, drop slots) and the key/value sizes of every map. The TypeScript side takes its layouts from there only.
//   make -C bpf && node scripts/layouts.ts            # after changing bpf/*.h: rewrite src/bpf/layouts.ts
//   node scripts/layouts.ts --check [--build DIR]      # exit 1 when src/bpf/layouts.ts is not what DIR's BTF says
// test/integration/layouts.test.ts builds the objects from bpf/ afresh and fails when the committed file differs.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { format, resolveConfig } from 'prettier';

const root = path.resolve(import.meta.dirname, '..');
export const LAYOUTS_FILE = path.join(root, 'src', 'bpf', 'layouts.ts');

/**
 * What the user side reads from each object, found in the sources rather than listed: every struct and enum
 * declared in a shared header (bpf/*.h, not the kernel-side *.bpf.h) that the object's source includes, directly or
 * through another header. A type in several objects must be the same in each. Drop slots are the key types of the
 * <prog>_drops maps (exec_drop, process_drop, xdp_drop).
 */
export function wantedTypes(bpfDir: string, program: string): string[] {
  const wanted: string[] = [];
  const visited = new Set<string>();
  const visit = (file: string): void => {
    if (visited.has(file)) return;
    visited.add(file);
    const text = readFileSync(path.join(bpfDir, file), 'utf8');
    for (const [, header] of text.matchAll(/^#include\s+"([^"]+)"/gm)) visit(header!);
    if (file.endsWith('.h') && !file.endsWith('.bpf.h')) {
      for (const [, kind, name] of text.matchAll(/^(struct|enum)\s+(\w+)\s*\{/gm)) wanted.push(`${kind} ${name}`);
    }
  };
  visit(`${program}.bpf.c`);
  return wanted;
}

/** The programs: every bpf/<name>.bpf.c, as bpf/Makefile builds them. */
export function programsIn(bpfDir: string): string[] {
  return readdirSync(bpfDir)
    .filter((f) => f.endsWith('.bpf.c'))
    .map((f) => f.slice(0, -'.bpf.c'.length))
    .sort();
}

interface BtfMember {
  name: string;
  type_id: number;
  bits_offset: number;
  bitfield_size?: number;
}
interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: BtfMember[];
  values?: { name: string; val: number }[];
  vars?: { type_id: number; offset: number; size: number }[];
}

class Btf {
  readonly #byId = new Map<number, BtfType>();
  readonly object: string;
  constructor(object: string) {
    this.object = object;
    const json = execFileSync('bpftool', ['btf', 'dump', 'file', object, 'format', 'raw', '-j'], { encoding: 'utf8' });
    for (const type of (JSON.parse(json) as { types: BtfType[] }).types) this.#byId.set(type.id, type);
  }

  type(id: number): BtfType {
    const type = this.#byId.get(id);
    if (type === undefined) throw new Error(`${this.object}: no BTF type ${id}`);
    return type;
  }

  named(kind: 'STRUCT' | 'ENUM', name: string): BtfType {
    for (const type of this.#byId.values()) if (type.kind === kind && type.name === name) return type;
    throw new Error(
      `${this.object} has no ${kind.toLowerCase()} ${name} in its BTF: a type no map names needs a ` +
        `\`const ${kind === 'STRUCT' ? 'struct' : 'enum'} ${name} *btf_${name} __attribute__((unused));\``,
    );
  }

  /** Follows typedefs and qualifiers. */
  resolve(id: number): BtfType {
    let type = this.type(id);
    while (['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG'].includes(type.kind))
      type = this.type(type.type_id!);
    return type;
  }

  sizeOf(id: number): number {
    const type = this.resolve(id);
    if (type.kind === 'PTR') return 8;
    if (type.kind === 'ARRAY') return type.nr_elems! * this.sizeOf(type.type_id!);
    if (type.size === undefined) throw new Error(`${this.object}: BTF type ${id} (${type.kind}) has no size`);
    return type.size;
  }

  /** The maps of the .maps section: key and value sizes (ring buffers have neither). */
  maps(): Map<string, { keySize: number; valueSize: number }> {
    const out = new Map<string, { keySize: number; valueSize: number }>();
    for (const section of this.#byId.values()) {
      if (section.kind !== 'DATASEC' || section.name !== '.maps') continue;
      for (const { type_id } of section.vars ?? []) {
        const variable = this.type(type_id);
        const def = this.resolve(variable.type_id!);
        const member = (name: string) => def.members?.find((m) => m.name === name);
        const key = member('key');
        const value = member('value');
        if (key === undefined || value === undefined) continue;
        // __type(key, T) is `typeof(T) *key`.
        out.set(variable.name, {
          keySize: this.sizeOf(this.resolve(key.type_id).type_id!),
          valueSize: this.sizeOf(this.resolve(value.type_id).type_id!),
        });
      }
    }
    return out;
  }
}

/** exec_event → EXEC_EVENT. */
function constName(name: string): string {
  return name.toUpperCase();
}

function structSource(btf: Btf, struct: BtfType): string {
  const fields = struct.members!.map((m) => {
    if (m.bitfield_size || m.bits_offset % 8 !== 0) throw new Error(`${struct.name}.${m.name} is a bit field`);
    return `${m.name}: { offset: ${m.bits_offset / 8}, size: ${btf.sizeOf(m.type_id)} }`;
  });
  return `{ size: ${struct.size}, fields: { ${fields.join(', ')} } }`;
}

/**
 * Enumerators by value, lower case, without their common prefix and a trailing *_MAX count: the label values and
 * slot names of an enum numbered 0, 1, 2, … (SYSCALL_OPENAT, SYSCALL_READ, … → 'openat', 'read', …). Undefined for
 * other enums (flag bits).
 */
function enumNames(values: readonly { name: string; val: number }[]): string[] | undefined {
  let prefix = values[0]!.name;
  for (const { name } of values) while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1);
  prefix = prefix.slice(0, prefix.lastIndexOf('_') + 1);
  const max = values.find(({ name }) => name.endsWith('_MAX'));
  const listed = values.filter((v) => v !== max).sort((a, b) => a.val - b.val);
  if (!listed.every(({ val }, i) => val === i) || (max !== undefined && max.val !== listed.length)) return undefined;
  return listed.map(({ name }) => name.slice(prefix.length).toLowerCase());
}

function enumSource(type: BtfType): string {
  const values = type.values!.map(({ name, val }) => `${name}: ${val}`).join(', ');
  const names = enumNames(type.values!);
  return `{ values: { ${values} }${names === undefined ? '' : `, names: [${names.map((n) => `'${n}'`).join(', ')}]`} }`;
}

/** The text of src/bpf/layouts.ts for the objects in `buildDir`. */
export async function generateLayouts(buildDir: string): Promise<string> {
  const types = new Map<string, { source: string; objects: string[]; kind: string }>();
  const maps: string[] = [];
  const bpfDir = path.join(root, 'bpf');
  for (const program of programsIn(bpfDir)) {
    const btf = new Btf(path.join(buildDir, `${program}.bpf.o`));
    for (const entry of wantedTypes(bpfDir, program)) {
      const [kind, name] = entry.split(' ') as ['struct' | 'enum', string];
      const type = btf.named(kind === 'struct' ? 'STRUCT' : 'ENUM', name);
      const source = kind === 'struct' ? structSource(btf, type) : enumSource(type);
      const seen = types.get(entry);
      if (seen !== undefined && seen.source !== source) {
        throw new Error(`${entry} differs between ${seen.objects.join(', ')} and ${program}.bpf.o`);
      }
      if (seen === undefined) types.set(entry, { source, objects: [`${program}.bpf.o`], kind });
      else seen.objects.push(`${program}.bpf.o`);
    }
    const entries = [...btf.maps()].map(([map, s]) => `${map}: { keySize: ${s.keySize}, valueSize: ${s.valueSize} }`);
    maps.push(
      `/** Key and value sizes of the maps of ${program}.bpf.o. */\n` +
        `export const ${constName(program)}_MAP_SIZES = { ${entries.join(', ')} } as const;`,
    );
  }
  const blocks = [...types].map(
    ([entry, { source, objects }]) =>
      `/** ${entry} (${objects.join(', ')}). */\nexport const ${constName(entry.split(' ')[1]!)} = ${source} as const;`,
  );
  const text =
    '// Generated by scripts/layouts.ts from the BTF of bpf/build/*.bpf.o: do not edit. After changing bpf/*.h run\n' +
    '// `make -C bpf && node scripts/layouts.ts`; test/integration/layouts.test.ts fails while this file is stale.\n' +
    '// Structs: size and { offset, size } of each field in bytes. Enums: values, and for enums numbered 0, 1, …\n' +
    '// `names`: the enumerators by value in lower case without their common prefix and *_MAX.\n\n' +
    [...blocks, ...maps].join('\n\n') +
    '\n';
  return format(text, { ...(await resolveConfig(LAYOUTS_FILE)), filepath: LAYOUTS_FILE });
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--build');
  const buildDir = at >= 0 ? path.resolve(args[at + 1] ?? '') : path.join(root, 'bpf', 'build');
  const text = await generateLayouts(buildDir);
  if (args.includes('--check')) {
    if (readFileSync(LAYOUTS_FILE, 'utf8') !== text) {
      console.error(`${path.relative(root, LAYOUTS_FILE)} is stale: run node scripts/layouts.ts`);
      process.exit(1);
    }
  } else {
    writeFileSync(LAYOUTS_FILE, text);
  }
}
