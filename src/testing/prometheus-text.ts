/**
 * Parses the Prometheus text exposition format served at etcd's `/metrics`.
 *
 * @returns one entry per sample, keyed by the sample as written: the name alone
 *   (`etcd_server_has_leader`) or the name with its label set
 *   (`grpc_server_handled_total{grpc_code="OK",grpc_method="Range",...}`). `+Inf`, `-Inf` and
 *   `NaN` map to the matching numbers.
 */
export function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const keyEnd = sampleKeyEnd(line);
    const value = line.slice(keyEnd).trim().split(/\s+/)[0];
    if (value === undefined || value === '') continue;
    samples.set(line.slice(0, keyEnd), parseSampleValue(value));
  }
  return samples;
}

/**
 * Sums every sample of metric `name` across all its label sets (0 when there is none).
 * Histogram and summary series (`_bucket`, `_sum`, `_count`) are distinct names.
 */
export function sumMetric(samples: ReadonlyMap<string, number>, name: string): number {
  let total = 0;
  for (const [key, value] of samples) {
    if (key === name || key.startsWith(`${name}{`)) total += value;
  }
  return total;
}

/** Index just past the sample name and its `{...}` label set, skipping braces inside quotes. */
function sampleKeyEnd(line: string): number {
  const brace = line.indexOf('{');
  const space = line.search(/\s/);
  if (brace === -1 || (space !== -1 && space < brace)) return space === -1 ? line.length : space;
  let inQuotes = false;
  for (let i = brace + 1; i < line.length; i++) {
    const ch = line[i];
    if (inQuotes && ch === '\\') i++;
    else if (ch === '"') inQuotes = !inQuotes;
    else if (ch === '}' && !inQuotes) return i + 1;
  }
  return line.length;
}

function parseSampleValue(value: string): number {
  switch (value) {
    case '+Inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
      return Number.NEGATIVE_INFINITY;
    default:
      return Number(value);
  }
}
