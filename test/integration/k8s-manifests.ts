// The chart's manifests as both schema checks see them: rendered by Helm, with the misspellings the API server must
// refuse injected, and checked offline by kubeconform (scripts/install-kubeconform.sh) against strict schemas.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { root } from './harness.ts';

export const KUBECONFORM = path.join(root, '.tools', 'bin', 'kubeconform');
const SCHEMAS = path.join(root, '.tools', 'schemas');

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

export function toYaml(manifests: Manifest[]): string {
  return manifests.map((m) => `---\n${stringify(m)}`).join('');
}

/**
 * The same manifests with the two misspellings issue 15 found passing every check but a strict API server:
 * `securityContext.privilegd` in the DaemonSet's agent container and `spec.groupz` in the PrometheusRule.
 */
export function misspell(manifests: Manifest[]): Manifest[] {
  const copy = structuredClone(manifests);
  for (const m of copy) {
    if (m.kind === 'DaemonSet') {
      const spec = m.spec as { template: { spec: { containers: { securityContext: Record<string, unknown> }[] } } };
      const sc = spec.template.spec.containers[0]!.securityContext;
      sc.privilegd = sc.privileged;
      delete sc.privileged;
    }
    if (m.kind === 'PrometheusRule') {
      const spec = m.spec as Record<string, unknown>;
      spec.groupz = spec.groups;
      delete spec.groups;
    }
  }
  return copy;
}

/** kubeconform -strict over YAML on stdin, with the Kubernetes and CRD schemas; never reaches a network. */
export function kubeconform(yamlText: string): { ok: boolean; output: string } {
  const run = spawnSync(
    KUBECONFORM,
    [
      '-strict',
      '-summary',
      '-schema-location',
      path.join(SCHEMAS, 'kubernetes', '{{.ResourceKind}}{{.KindSuffix}}.json'),
      '-schema-location',
      path.join(SCHEMAS, 'crds', '{{.ResourceKind}}_{{.ResourceAPIVersion}}.json'),
      '-',
    ],
    { input: yamlText, encoding: 'utf8' },
  );
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}
