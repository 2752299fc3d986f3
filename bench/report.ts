import type { ClientName } from './clients/types.js';
import { median, type Summary } from './stats.js';

/** One workload's results, as the report shows them. */
export interface WorkloadReport {
  id: string;
  title: string;
  unit: string;
  latency: string;
  floorTarget: number | undefined;
  summaries: Summary[];
}

export interface Environment {
  mode: string;
  node: string;
  etcd: string;
  cpu: string;
  pinned: boolean;
  loadBefore: string;
  loadAfter: string;
  seconds: number;
  date: string;
  config: Record<string, number>;
}

/** Throughput within this fraction below etcd3's counts as equal: on 2 cores etcd sets the pace. */
const THROUGHPUT_TOLERANCE = 0.05;

function of(report: WorkloadReport, client: ClientName): Summary | undefined {
  return report.summaries.find((summary) => summary.client === client);
}

function fmt(value: number | undefined, digits = 1): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en');
  return value.toFixed(digits);
}

/** The ratios the targets are stated in. */
export interface Ratios {
  opsVsEtcd3: number;
  cpuVsEtcd3: number;
  rssVsEtcd3: number;
  opsVsFloor: number;
  cpuVsFloor: number;
  /** With the optional floor-deadline client: etcdkit's CPU/op over it, and its own over the floor's. */
  cpuVsFloorDeadline: number;
  floorDeadlineCpuVsFloor: number;
}

/**
 * The median over rounds of the ratio within each round: the clients of one round ran back to
 * back, so a slow spell of the machine (other processes, the host) mostly hits all of them,
 * and one bad round cannot tip the result.
 */
function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return median(a.map((value, i) => value / b[i]!));
}

export function ratios(report: WorkloadReport): Ratios | undefined {
  const kit = of(report, 'etcdkit');
  const etcd3 = of(report, 'etcd3');
  const floor = of(report, 'floor');
  const floorDeadline = of(report, 'floor-deadline');
  if (kit === undefined || (etcd3 === undefined && floor === undefined)) return undefined;
  // A partial run (--clients) leaves the ratios to a missing client as NaN.
  return {
    opsVsEtcd3: etcd3 ? pairedRatio(kit.opsPerSecRounds, etcd3.opsPerSecRounds) : Number.NaN,
    cpuVsEtcd3: etcd3 ? pairedRatio(kit.cpuPerOpRoundsUs, etcd3.cpuPerOpRoundsUs) : Number.NaN,
    rssVsEtcd3: etcd3 ? kit.peakRssMb / etcd3.peakRssMb : Number.NaN,
    opsVsFloor: floor ? pairedRatio(kit.opsPerSecRounds, floor.opsPerSecRounds) : Number.NaN,
    cpuVsFloor: floor ? pairedRatio(kit.cpuPerOpRoundsUs, floor.cpuPerOpRoundsUs) : Number.NaN,
    cpuVsFloorDeadline: floorDeadline ? pairedRatio(kit.cpuPerOpRoundsUs, floorDeadline.cpuPerOpRoundsUs) : Number.NaN,
    floorDeadlineCpuVsFloor:
      floorDeadline && floor ? pairedRatio(floorDeadline.cpuPerOpRoundsUs, floor.cpuPerOpRoundsUs) : Number.NaN,
  };
}

function notes(report: WorkloadReport, summary: Summary): string {
  const e = summary.extra;
  const parts: string[] = [];
  if (e['createMs'] !== undefined) parts.push(`created in ${fmt(e['createMs'], 0)} ms`);
  if (e['heapPerWatcherBytes'] !== undefined) parts.push(`heap ${fmt(e['heapPerWatcherBytes'], 0)} B/watcher`);
  if (e['heapPerConsumedWatcherBytes'] !== undefined) parts.push(`${fmt(e['heapPerConsumedWatcherBytes'], 0)} B with its consumer`);
  if (e['spanMs'] !== undefined && report.id === 'watchers-10k') parts.push(`all events in ${fmt(e['spanMs'], 0)} ms`);
  if (e['heapPerLeaseBytes'] !== undefined) parts.push(`heap ${fmt(e['heapPerLeaseBytes'], 0)} B/lease`);
  if (e['grantMs'] !== undefined) parts.push(`granted in ${fmt(e['grantMs'], 0)} ms`);
  if (report.id === 'leases-1k') parts.push(`CPU ${fmt((summary.cpuPerOpUs * summary.opsPerSec) / 1000, 1)} ms/s`);
  if (e['settleCpuUsPerOp'] !== undefined) parts.push(`${fmt(e['settleCpuUsPerOp'], 1)} µs/op in the settling cycles before the window`);
  if (e['casFailures']) parts.push(`${fmt(e['casFailures'], 0)} failed swaps`);
  if (e['missingEvents']) parts.push(`**${fmt(e['missingEvents'], 0)} events missing**`);
  if (e['leasesLost']) parts.push(`**${fmt(e['leasesLost'], 0)} leases lost**`);
  return parts.join(', ');
}

function verdict(report: WorkloadReport, r: Ratios): string {
  const misses: string[] = [];
  if (r.opsVsEtcd3 < 1 - THROUGHPUT_TOLERANCE) misses.push('throughput < etcd3');
  if (r.cpuVsEtcd3 >= 1) misses.push('CPU/op ≥ etcd3');
  if (r.rssVsEtcd3 >= 1) misses.push('RSS ≥ etcd3');
  if (report.floorTarget !== undefined && r.cpuVsFloor > report.floorTarget) {
    misses.push(`CPU/op > ${report.floorTarget}× floor`);
  }
  if (report.id === 'watchers-10k') {
    const heap = of(report, 'etcdkit')?.extra['heapPerWatcherBytes'];
    if (heap !== undefined && heap >= 1024) misses.push('heap ≥ 1 KB/watcher');
  }
  return misses.length === 0 ? 'met' : `**short**: ${misses.join('; ')}`;
}

export function renderMarkdown(reports: readonly WorkloadReport[], env: Environment): string {
  const lines: string[] = [];
  lines.push('# etcdkit benchmark results', '');
  lines.push(
    `\`npm run bench${env.mode === 'quick' ? ' -- --quick' : ''}\`, ${env.mode} run of ${env.date}, ${env.seconds.toFixed(0)} s. ` +
      `etcd ${env.etcd}, one node started by \`etcdkit/testing\` with \`--unsafe-no-fsync\` (no fsync: the figures measure ` +
      `the clients, not the disk). Node ${env.node}, ${env.cpu}; load average ${env.loadBefore} before, ${env.loadAfter} after. ` +
      (env.pinned
        ? 'etcd pinned to CPU 1, the client under test to CPU 0.'
        : 'Not pinned to CPUs: the client and etcd share the cores.'),
    '',
  );
  lines.push(
    'Each client runs in its own child process (so CPU time and RSS are its own), and the clients take turns ' +
      'etcdkit, etcd3, floor in every round. CPU/op is the client process\'s user + system CPU over the measurement ' +
      'divided by the operations completed; latency percentiles pool every operation of every round. ' +
      'Peak RSS is the client process\'s own peak (getrusage maxrss) over the whole workload, warm-ups included. ' +
      'The floor is a bare grpc-js client sending pre-encoded requests. See bench/README.md for the method.',
    '',
  );
  lines.push('| workload | client | ops/s | p50 ms | p99 ms | CPU µs/op | CPU µs/op per round | peak RSS MB | notes |');
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |');
  for (const report of reports) {
    for (const summary of report.summaries) {
      lines.push(
        `| ${summary.client === 'etcdkit' ? `**${report.id}**<br>${report.title}; ops = ${report.unit}; latency = ${report.latency}` : ''} ` +
          `| ${summary.client} | ${fmt(summary.opsPerSec, 0)} | ${fmt(summary.p50Ms, 2)} | ${fmt(summary.p99Ms, 2)} ` +
          `| ${fmt(summary.cpuPerOpUs)} | ${summary.cpuPerOpRoundsUs.map((v) => fmt(v)).join(' / ')} | ${fmt(summary.peakRssMb)} | ${notes(report, summary)} |`,
      );
    }
  }
  lines.push('', '## Ratios', '');
  lines.push(
    'Ratios of ops/s and CPU/op are the median over rounds of the ratio within each round (the clients of a round ' +
      'ran back to back); the RSS ratio compares peaks. ' +
      'Below 1 is better for CPU/op and RSS, above 1 for ops/s. Targets (issue 7): ops/s at least etcd3\'s ' +
      `(within ${THROUGHPUT_TOLERANCE * 100}%: on 2 cores the server sets the pace), CPU/op and RSS below etcd3's, and CPU/op within ` +
      '1.1× the floor on put, get and txn, 1.5× on watch and keep-alive; 10,000 watchers under 1 KB of heap each.',
    '',
  );
  lines.push('| workload | ops/s etcdkit/etcd3 | CPU/op etcdkit/etcd3 | RSS etcdkit/etcd3 | ops/s etcdkit/floor | CPU/op etcdkit/floor | floor target | targets |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const report of reports) {
    const r = ratios(report);
    if (r === undefined) continue;
    lines.push(
      `| ${report.id} | ${r.opsVsEtcd3.toFixed(2)} | ${r.cpuVsEtcd3.toFixed(2)} | ${r.rssVsEtcd3.toFixed(2)} | ${r.opsVsFloor.toFixed(2)} ` +
        `| ${r.cpuVsFloor.toFixed(2)} | ${report.floorTarget === undefined ? '—' : `≤ ${report.floorTarget}`} | ${verdict(report, r)} |`,
    );
  }
  if (reports.some((report) => of(report, 'floor-deadline') !== undefined)) {
    lines.push('', 'With the floor-deadline client (the floor plus etcdkit\'s 30 s deadline and require-leader metadata):', '');
    lines.push('| workload | CPU/op floor-deadline/floor | CPU/op etcdkit/floor-deadline |');
    lines.push('| --- | ---: | ---: |');
    for (const report of reports) {
      const r = ratios(report);
      if (r !== undefined) lines.push(`| ${report.id} | ${r.floorDeadlineCpuVsFloor.toFixed(2)} | ${r.cpuVsFloorDeadline.toFixed(2)} |`);
    }
  }
  lines.push('', '![ratios](ratios.svg)', '');
  lines.push(`Configuration: \`${JSON.stringify(env.config)}\``, '');
  return lines.join('\n');
}

const SERIES: Array<{ key: keyof Ratios; label: string; color: string }> = [
  { key: 'cpuVsFloor', label: 'CPU/op etcdkit/floor', color: '#e8710a' },
  { key: 'cpuVsEtcd3', label: 'CPU/op etcdkit/etcd3', color: '#1967d2' },
  { key: 'rssVsEtcd3', label: 'peak RSS etcdkit/etcd3', color: '#9334e6' },
  { key: 'opsVsEtcd3', label: 'ops/s etcdkit/etcd3', color: '#188038' },
];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A horizontal grouped bar chart of the ratios, one group per workload, with the 1.0, 1.1 and 1.5 lines. */
export function renderSvg(reports: readonly WorkloadReport[], env: Environment): string {
  const rows = reports.map((report) => ({ report, r: ratios(report) })).filter((row) => row.r !== undefined);
  const left = 190;
  const right = 70;
  const plotWidth = 560;
  const bar = 11;
  const gap = 3;
  const groupGap = 14;
  const top = 70;
  const groupHeight = SERIES.length * (bar + gap) + groupGap;
  const height = top + rows.length * groupHeight + 40;
  const width = left + plotWidth + right;
  const max = Math.max(2, Math.ceil(Math.max(...rows.flatMap(({ r }) => SERIES.map((s) => Math.min(r![s.key], 4)))) * 2) / 2);
  const x = (value: number): number => left + (Math.min(value, max) / max) * plotWidth;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${left}" y="18" font-size="14" font-weight="bold">etcdkit ratios (${escape(env.mode)} run, ${escape(env.date.slice(0, 10))})</text>`);
  SERIES.forEach((series, i) => {
    const lx = left + (i % 2) * 280;
    const ly = 34 + Math.floor(i / 2) * 16;
    out.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${series.color}"/>`);
    out.push(`<text x="${lx + 14}" y="${ly}">${escape(series.label)}${series.key === 'opsVsEtcd3' ? ' (higher is better)' : ' (lower is better)'}</text>`);
  });
  const bottom = top + rows.length * groupHeight;
  for (let tick = 0; tick <= max; tick += 0.5) {
    out.push(`<line x1="${x(tick)}" y1="${top - 6}" x2="${x(tick)}" y2="${bottom}" stroke="#eee"/>`);
    out.push(`<text x="${x(tick)}" y="${bottom + 14}" text-anchor="middle" fill="#555">${tick.toFixed(1)}×</text>`);
  }
  for (const [value, dash] of [
    [1, ''],
    [1.1, '4 3'],
    [1.5, '2 3'],
  ] as const) {
    out.push(`<line x1="${x(value)}" y1="${top - 6}" x2="${x(value)}" y2="${bottom}" stroke="#333" ${dash ? `stroke-dasharray="${dash}"` : ''}/>`);
  }
  rows.forEach(({ report, r }, i) => {
    const y0 = top + i * groupHeight;
    out.push(`<text x="${left - 8}" y="${y0 + (SERIES.length * (bar + gap)) / 2 + 3}" text-anchor="end" font-weight="bold">${escape(report.id)}</text>`);
    SERIES.forEach((series, j) => {
      const value = r![series.key];
      const y = y0 + j * (bar + gap);
      out.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x(value) - left)}" height="${bar}" fill="${series.color}"/>`);
      out.push(`<text x="${x(value) + 4}" y="${y + bar - 2}" fill="#333">${value.toFixed(2)}${value > max ? ' →' : ''}</text>`);
    });
  });
  out.push(`<text x="${left}" y="${height - 8}" fill="#555">Solid line 1.0×; dashed 1.1× and dotted 1.5×: the floor targets of put/get/txn and of watch/keep-alive.</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
