// The metric table (src/export/descriptors.ts) against what buildMetrics makes and serialize writes: the table is
// the only source of names, units, descriptions and attribute keys, the Prometheus text is byte-identical to the
// golden file, and the OpenTelemetry data carries dotted names and keys only.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ValueType } from '@opentelemetry/api';
import { DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import {
  ALL_METRICS,
  descriptionOf,
  METRICS,
  metricsOf,
  METRIC_NAME_ATTRIBUTES,
  type MetricDescriptor,
} from '../../src/export/descriptors.ts';
import { buildMetrics, buildResourceMetrics, type AgentSnapshot } from '../../src/export/metrics.ts';
import { prometheusName, prometheusNameOf, serialize } from '../../src/export/prometheus.ts';
import { agentResource } from '../../src/export/resource.ts';
import { richSnapshot } from './rich-snapshot.ts';

const golden = readFileSync(path.join(import.meta.dirname, 'fixtures', 'metrics-golden.prom'), 'utf8');

/** The rich snapshot with export counts too: every metric of the table has points. */
function everything(): AgentSnapshot {
  return {
    ...richSnapshot(),
    exports: [
      { exporter: 'prometheus', exported: 3, failed: 0, skipped: 0 },
      { exporter: 'otlp', exported: 1, failed: 2, skipped: 4 },
    ],
  };
}

const text = (snapshot: AgentSnapshot): string =>
  serialize(buildResourceMetrics(agentResource('1.2.3', 'node-a'), '1.2.3', snapshot));

const entry = (m: MetricData): MetricDescriptor => {
  const d = ALL_METRICS.find((d) => d.name === m.descriptor.name);
  if (d === undefined) throw new Error(`${m.descriptor.name} is not in the metric table`);
  return d;
};

describe('the /metrics text', () => {
  it('is byte-identical to fixtures/metrics-golden.prom (a change there is a contract change: review its diff)', () => {
    expect(text(richSnapshot())).toBe(golden);
  });

  it('only gains the export counters when the snapshot has export counts', () => {
    const full = text(everything());
    const added = full.split('\n').filter((l) => !golden.split('\n').includes(l));
    expect(added).toEqual([
      '# HELP ebpf_agent_exports_total Collections an exporter delivered (built the /metrics text, or had the OTLP receiver accept them), by exporter.',
      '# TYPE ebpf_agent_exports_total counter',
      'ebpf_agent_exports_total{exporter="prometheus"} 3',
      'ebpf_agent_exports_total{exporter="otlp"} 1',
      '# HELP ebpf_agent_exports_failed_total Collections an exporter failed to deliver (refused, timed out, or the exporter threw), by exporter.',
      '# TYPE ebpf_agent_exports_failed_total counter',
      'ebpf_agent_exports_failed_total{exporter="prometheus"} 0',
      'ebpf_agent_exports_failed_total{exporter="otlp"} 2',
      "# HELP ebpf_agent_exports_skipped_total Collections not exported because the exporter's previous export was still in flight, by exporter.",
      '# TYPE ebpf_agent_exports_skipped_total counter',
      'ebpf_agent_exports_skipped_total{exporter="prometheus"} 0',
      'ebpf_agent_exports_skipped_total{exporter="otlp"} 4',
    ]);
  });

  it('passes promtool check metrics with the export counters', () => {
    const result = spawnSync('promtool', ['check', 'metrics'], { input: text(everything()), encoding: 'utf8' });
    if (result.error !== undefined) return; // promtool missing: metrics.test.ts says so
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
      status: 0,
      stdout: '',
      stderr: '',
    });
  });

  it('names the metric families the table names, in the table order', () => {
    const families = [...text(everything()).matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]);
    expect(families).toEqual(['target_info', ...ALL_METRICS.map(prometheusNameOf)]);
  });
});

describe('the metric table', () => {
  const metrics = buildMetrics(everything());

  it('has every metric buildMetrics makes, and buildMetrics makes every metric it has', () => {
    expect(metrics.map((m) => m.descriptor.name)).toEqual(ALL_METRICS.map((d) => d.name));
  });

  it('gives each metric its kind, value type, unit and description', () => {
    for (const m of metrics) {
      const d = entry(m);
      const kind =
        m.dataPointType === DataPointType.SUM
          ? m.isMonotonic
            ? 'counter'
            : 'updowncounter'
          : m.dataPointType === DataPointType.GAUGE
            ? 'gauge'
            : 'histogram';
      expect({ name: d.name, kind, unit: m.descriptor.unit }).toEqual({ name: d.name, kind: d.kind, unit: d.unit });
      expect(m.descriptor.valueType, d.name).toBe(d.valueType === 'double' ? ValueType.DOUBLE : ValueType.INT);
      expect(m.descriptor.description, d.name).toBe(descriptionOf(d, { 'cpu-sample-hz': 99 }));
      expect(prometheusName(m), d.name).toBe(prometheusNameOf(d));
    }
  });

  it('lists the attribute keys of every data point, in the order they are set', () => {
    for (const m of metrics) {
      const d = entry(m);
      const allowed = [...d.attributes, ...(d.whereKnown ?? [])];
      for (const p of m.dataPoints) {
        const keys = Object.keys(p.attributes);
        expect(
          keys.map((k) => allowed.indexOf(k)),
          `${d.name}: ${keys.join(', ')}`,
        ).toEqual(keys.map((k) => allowed.indexOf(k)).sort((a, b) => a - b));
        expect(
          keys.filter((k) => !allowed.includes(k)),
          d.name,
        ).toEqual([]);
      }
    }
    // The rich snapshot exercises the optional keys: each one appears somewhere.
    const seen = new Set(metrics.flatMap((m) => m.dataPoints.flatMap((p) => Object.keys(p.attributes))));
    const declared = new Set(ALL_METRICS.flatMap((d) => [...d.attributes, ...(d.whereKnown ?? [])]));
    expect([...declared].filter((k) => !seen.has(k))).toEqual([]);
  });

  it('has OpenTelemetry names and keys: lower case, dotted, never a Prometheus form', () => {
    for (const d of ALL_METRICS) {
      expect(d.name).toMatch(/^ebpf(\.[a-z][a-z0-9_]*)+$/);
      expect(d.name).not.toMatch(/_total$|_seconds$|_bytes$/);
      expect(d.unit).toMatch(/^(\{[a-z]+\}|By|s|1)$/);
      for (const a of [...d.attributes, ...(d.whereKnown ?? [])]) expect(a, d.name).toMatch(/^[a-z][a-z0-9_.]*$/);
    }
    expect(new Set(ALL_METRICS.map((d) => d.name)).size).toBe(ALL_METRICS.length);
    expect(new Set(ALL_METRICS.map(prometheusNameOf)).size).toBe(ALL_METRICS.length);
  });

  it('derives the Prometheus names: dots to underscores, unit suffix, _total on counters', () => {
    expect(prometheusNameOf(METRICS.syscalls)).toBe('ebpf_syscalls_total');
    expect(prometheusNameOf(METRICS.xdpBytes)).toBe('ebpf_xdp_bytes_total');
    expect(prometheusNameOf(METRICS.pollDuration)).toBe('ebpf_agent_poll_duration_seconds');
    expect(prometheusNameOf(METRICS.bpfRunTime)).toBe('ebpf_agent_bpf_program_run_time_seconds_total');
    expect(prometheusNameOf(METRICS.mapEntries)).toBe('ebpf_agent_map_entries');
    expect(prometheusNameOf(METRICS.buildInfo)).toBe('ebpf_agent_build_info');
  });

  it('says which program contributes each metric', () => {
    expect(metricsOf('syscalls').map((d) => d.name)).toEqual(['ebpf.syscalls', 'ebpf.process.syscalls']);
    expect(metricsOf('cpu').map((d) => d.name)).toEqual([
      'ebpf.cpu.samples',
      'ebpf.process.cpu.samples',
      'ebpf.cpu.idle_samples',
    ]);
    expect(metricsOf('xdp').map(prometheusNameOf)).toEqual([
      'ebpf_xdp_packets_total',
      'ebpf_xdp_bytes_total',
      'ebpf_xdp_truncated_packets_total',
      'ebpf_agent_xdp_attached',
      'ebpf_agent_xdp_interface_losses_total',
    ]);
    expect(metricsOf('exec')[0]?.name).toBe('ebpf.process.execs');
    expect(metricsOf('agent').every((d) => d.name.startsWith('ebpf.agent.'))).toBe(true);
  });
});

describe('the OpenTelemetry data (what OTLP sends)', () => {
  const metrics = buildMetrics(everything());

  it('names metrics in the data by their OpenTelemetry name; /metrics writes the family name', () => {
    const named = metrics.filter((m) => entry(m).attributes.some((a) => METRIC_NAME_ATTRIBUTES.has(a)));
    expect(named.map((m) => m.descriptor.name)).toEqual([
      'ebpf.agent.series',
      'ebpf.agent.series_folded',
      'ebpf.agent.series_ended_early',
    ]);
    const values = named.flatMap((m) => m.dataPoints.map((p) => p.attributes['metric']));
    expect(values).toEqual([
      'ebpf.syscalls',
      'ebpf.process.syscalls',
      'ebpf.cpu.samples',
      'ebpf.process.cpu.samples',
      'ebpf.cpu.idle_samples',
      'ebpf.process.execs',
      'ebpf.xdp.packets',
      'ebpf.xdp.bytes',
      'ebpf.xdp.truncated_packets',
      'ebpf.network.packets',
      'ebpf.network.bytes',
      'ebpf.network.truncated_packets',
      'ebpf.tcp.retransmits',
      'ebpf.tcp.resets_sent',
      'ebpf.tcp.resets_received',
      'ebpf.tcp.connect.attempts',
      'ebpf.tcp.connect.failures',
      'ebpf.tcp.connect.duration',
      'ebpf.process.exits',
      'ebpf.oom.kills',
      'ebpf.syscalls',
      'ebpf.process.syscalls',
      'ebpf.cpu.samples',
      'ebpf.process.cpu.samples',
      'ebpf.process.execs',
      'ebpf.tcp.retransmits',
      'ebpf.tcp.resets_sent',
      'ebpf.tcp.resets_received',
      'ebpf.tcp.connect.attempts',
      'ebpf.tcp.connect.failures',
      'ebpf.tcp.connect.duration',
      'ebpf.process.exits',
      'ebpf.oom.kills',
      'ebpf.process.syscalls',
      'ebpf.process.execs',
    ]);
    expect(text(everything())).toContain('\nebpf_agent_series{metric="ebpf_cpu_idle_samples_total"} 1\n');
    expect(text(everything())).toContain('\nebpf_agent_series_folded_total{metric="ebpf_cpu_samples_total"} 1\n');
  });

  it('has no underscore-escaped form of a dotted key or name anywhere', () => {
    const escaped = new Set(
      ALL_METRICS.flatMap((d) => [d.name, ...d.attributes, ...(d.whereKnown ?? [])])
        .filter((s) => s.includes('.'))
        .map((s) => s.replaceAll('.', '_')),
    );
    for (const d of ALL_METRICS) escaped.add(prometheusNameOf(d));
    const leaks: string[] = [];
    for (const m of metrics) {
      if (escaped.has(m.descriptor.name)) leaks.push(`metric ${m.descriptor.name}`);
      for (const p of m.dataPoints) {
        for (const [k, v] of Object.entries(p.attributes)) {
          if (escaped.has(k)) leaks.push(`${m.descriptor.name}: key ${k}`);
          if (typeof v === 'string' && escaped.has(v)) leaks.push(`${m.descriptor.name}: ${k}=${v}`);
        }
      }
    }
    expect(leaks).toEqual([]);
  });
});
