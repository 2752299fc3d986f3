import { describe, expect, it } from 'vitest';
import { parsePrometheusText, sumMetric } from 'etcdkit/testing';

const SAMPLE = `# HELP etcd_server_has_leader Whether or not a leader exists.
# TYPE etcd_server_has_leader gauge
etcd_server_has_leader 1
grpc_server_handled_total{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 7
grpc_server_handled_total{grpc_code="Unavailable",grpc_method="Watch",grpc_service="etcdserverpb.Watch",grpc_type="bidi_stream"} 2
odd_labels{path="a} b",quote="x\\"y"} 3 1700000000000
etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 12
weird_value NaN
overflow +Inf
`;

describe('parsePrometheusText()', () => {
  const samples = parsePrometheusText(SAMPLE);

  it('keys samples by name and label set, and skips comments', () => {
    expect(samples.get('etcd_server_has_leader')).toBe(1);
    expect(samples.get('etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"}')).toBe(12);
    expect(samples.get('odd_labels{path="a} b",quote="x\\"y"}')).toBe(3);
    expect(samples.get('weird_value')).toBeNaN();
    expect(samples.get('overflow')).toBe(Number.POSITIVE_INFINITY);
    expect([...samples.keys()].some((key) => key.startsWith('#'))).toBe(false);
  });

  it('sums a metric over its label sets, and gives 0 for a missing one', () => {
    expect(sumMetric(samples, 'grpc_server_handled_total')).toBe(9);
    expect(sumMetric(samples, 'etcd_server_has_leader')).toBe(1);
    expect(sumMetric(samples, 'grpc_server_handled')).toBe(0);
    expect(sumMetric(samples, 'nope')).toBe(0);
  });
});
