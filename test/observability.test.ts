/**
 * Observability hooks (call start/end, stream reconnects) and the OpenTelemetry adapter, traced
 * into a small fake tracer (no @opentelemetry/api dependency).
 */
import { describe, expect, it } from 'vitest';
import {
  type CallEndEvent,
  type CallStartEvent,
  createOpenTelemetryHooks,
  type EtcdHooks,
  FutureRevisionError,
  type OpenTelemetryApi,
  type StreamReconnectEvent,
} from 'etcdkit';
import { startFaultProxy } from 'etcdkit/testing';
import { useEtcd } from './helpers/etcd.js';

const etcd = useEtcd();

interface FakeSpan {
  name: string;
  kind: number | undefined;
  attributes: Record<string, string | number | boolean>;
  status: { code: number; message?: string } | undefined;
  exceptions: Error[];
  ended: number;
}

/** A stand-in for the `@opentelemetry/api` module, recording the spans it is asked for. */
function fakeOpenTelemetry(): { api: OpenTelemetryApi; spans: FakeSpan[]; tracers: string[] } {
  const spans: FakeSpan[] = [];
  const tracers: string[] = [];
  const api: OpenTelemetryApi = {
    SpanKind: { CLIENT: 2 },
    SpanStatusCode: { ERROR: 2 },
    trace: {
      getTracer(name, version) {
        tracers.push(`${name}@${version ?? ''}`);
        return {
          startSpan(spanName, options) {
            const span: FakeSpan = {
              name: spanName,
              kind: options?.kind,
              attributes: { ...options?.attributes },
              status: undefined,
              exceptions: [],
              ended: 0,
            };
            spans.push(span);
            return {
              setAttribute: (key, value) => (span.attributes[key] = value),
              setStatus: (status) => (span.status = status),
              recordException: (exception) => span.exceptions.push(exception),
              end: () => void span.ended++,
            };
          },
        };
      },
    },
  };
  return { api, spans, tracers };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('hooks', () => {
  it('report every unary call once, with method, endpoint, duration, attempts and outcome', async () => {
    const starts: CallStartEvent[] = [];
    const ends: CallEndEvent[] = [];
    const client = etcd.client({ hooks: { onCallStart: (e) => starts.push(e), onCallEnd: (e) => ends.push(e) } });
    const key = `${etcd.prefix()}k`;
    await client.put(key, 'v');
    const future = await client.get(key, { revision: 1_000_000n }).catch((error: unknown) => error);
    expect(future).toBeInstanceOf(FutureRevisionError);
    await client.maintenance.status(etcd.server.clientUrl);

    expect(starts.map((e) => e.method)).toEqual(['KV.Put', 'KV.Range', 'Maintenance.Status']);
    expect(starts.map((e) => e.endpoint)).toEqual([undefined, undefined, etcd.server.endpoint]);
    expect(ends.map((e) => e.callId)).toEqual(starts.map((e) => e.callId));
    expect(new Set(starts.map((e) => e.callId)).size).toBe(3);
    const [put, get, status] = ends;
    expect(put).toMatchObject({ method: 'KV.Put', path: '/etcdserverpb.KV/Put', endpoint: etcd.server.endpoint, attempts: 1, outcome: 'ok' });
    expect(put!.error).toBeUndefined();
    expect(put!.durationMs).toBeGreaterThan(0);
    expect(get).toMatchObject({ method: 'KV.Range', outcome: 'error', attempts: 1 });
    expect(get!.error).toBe(future);
    expect(status).toMatchObject({ method: 'Maintenance.Status', endpoint: etcd.server.endpoint, outcome: 'ok' });
  });

  it('count retries in attempts, and a hook that throws changes nothing but a process warning', async () => {
    await using proxy = await startFaultProxy({ target: etcd.server.endpoint });
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.message);
    process.on('warning', onWarning);
    const ends: CallEndEvent[] = [];
    try {
      const hooks: EtcdHooks = {
        onCallStart: () => {
          throw new Error('hook bug');
        },
        onCallEnd: (e) => ends.push(e),
      };
      const client = etcd.client({ endpoints: [proxy.endpoint], hooks });
      await proxy.refuse();
      const get = client.get(`${etcd.prefix()}r`, { timeoutMs: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 700));
      await proxy.heal();
      await get;
      await until(() => warnings.length > 0, 1_000);
    } finally {
      process.off('warning', onWarning);
    }
    expect(ends).toHaveLength(1);
    expect(ends[0]!.outcome).toBe('ok');
    expect(ends[0]!.attempts).toBeGreaterThan(1);
    expect(warnings.some((message) => message.includes('hook bug'))).toBe(true);
  });

  it('onStreamReconnect reports a watch stream reopened after a cut', async () => {
    await using proxy = await startFaultProxy({ target: etcd.server.endpoint });
    const reconnects: StreamReconnectEvent[] = [];
    const client = etcd.client({ endpoints: [proxy.endpoint], hooks: { onStreamReconnect: (e) => reconnects.push(e) } });
    const key = `${etcd.prefix()}w`;
    const watcher = client.watch(key);
    await watcher.created;
    await proxy.cut();
    await until(() => reconnects.length > 0);
    expect(reconnects[0]).toMatchObject({ method: 'Watch.Watch', endpoint: proxy.endpoint, attempt: 1 });
    expect(reconnects[0]!.error.retryable).toBe(true);
    await watcher.cancel();
  });
});

describe('createOpenTelemetryHooks', () => {
  it('makes a client span per call, with rpc and server attributes, errors recorded, and reconnect spans', async () => {
    const { api, spans, tracers } = fakeOpenTelemetry();
    const hooks = createOpenTelemetryHooks(api, { tracerVersion: '0.1.0' });
    expect(tracers).toEqual(['etcdkit@0.1.0']);
    const client = etcd.client({ hooks });
    const key = `${etcd.prefix()}otel`;
    await client.put(key, 'v');
    await client.get(key, { revision: 1_000_000n }).catch(() => undefined);

    expect(spans.map((s) => s.name)).toEqual(['etcdserverpb.KV/Put', 'etcdserverpb.KV/Range']);
    const [put, range] = spans;
    const [host, port] = etcd.server.endpoint.split(':');
    expect(put).toMatchObject({
      kind: 2,
      ended: 1,
      status: undefined,
      attributes: {
        'rpc.system': 'grpc',
        'rpc.service': 'etcdserverpb.KV',
        'rpc.method': 'Put',
        'etcdkit.operation': 'KV.Put',
        'server.address': host,
        'server.port': Number(port),
        'etcdkit.attempts': 1,
        'rpc.grpc.status_code': 0,
      },
    });
    expect(range!.ended).toBe(1);
    expect(range!.status?.code).toBe(2);
    expect(range!.attributes['rpc.grpc.status_code']).toBe(11);
    expect(range!.attributes['etcdkit.error_code']).toBe('FUTURE_REVISION');
    expect(range!.exceptions[0]).toBeInstanceOf(FutureRevisionError);

    hooks.onStreamReconnect?.({
      method: 'Watch.Watch',
      endpoint: '[::1]:2379',
      attempt: 2,
      error: range!.exceptions[0] as FutureRevisionError,
    });
    expect(spans[2]).toMatchObject({
      name: 'Watch/Watch reconnect',
      ended: 1,
      attributes: { 'server.address': '::1', 'server.port': 2379, 'etcdkit.attempt': 2 },
    });
  });
});
