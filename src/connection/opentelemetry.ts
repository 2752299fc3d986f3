import type { CallEndEvent, CallStartEvent, EtcdHooks, StreamReconnectEvent } from './hooks.js';

/** Attribute values, as OpenTelemetry accepts them. */
type AttributeValue = string | number | boolean;

/** The part of an OpenTelemetry `Span` the hooks use. */
export interface OpenTelemetrySpan {
  setAttribute(key: string, value: AttributeValue): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error): unknown;
  end(): void;
}

/** The part of an OpenTelemetry `Tracer` the hooks use. */
export interface OpenTelemetryTracer {
  startSpan(name: string, options?: { kind?: number; attributes?: Record<string, AttributeValue> }): OpenTelemetrySpan;
}

/**
 * The part of the `@opentelemetry/api` module the hooks use. Pass the module itself
 * (`import * as otel from '@opentelemetry/api'`); etcdkit never imports it.
 */
export interface OpenTelemetryApi {
  trace: { getTracer(name: string, version?: string): OpenTelemetryTracer };
  SpanKind: { CLIENT: number };
  SpanStatusCode: { ERROR: number };
}

/** Options of {@link createOpenTelemetryHooks}. */
export interface OpenTelemetryHooksOptions {
  /** The tracer's name. @defaultValue `'etcdkit'` */
  tracerName?: string;
  /** The tracer's version. */
  tracerVersion?: string;
}

/** `/etcdserverpb.KV/Range` → `['etcdserverpb.KV', 'Range']`. */
function serviceAndMethod(path: string): [string, string] {
  const [service = '', method = ''] = path.replace(/^\//, '').split('/');
  return [service, method];
}

function setServer(span: OpenTelemetrySpan, endpoint: string | undefined): void {
  if (endpoint === undefined) return;
  const colon = endpoint.lastIndexOf(':');
  span.setAttribute('server.address', endpoint.slice(0, colon).replace(/^\[(.*)\]$/, '$1'));
  span.setAttribute('server.port', Number(endpoint.slice(colon + 1)));
}

/**
 * Hooks that trace every unary call as an OpenTelemetry client span named after its gRPC
 * method (`etcdserverpb.KV/Range`), with the `rpc.*` and `server.*` attributes of the
 * semantic conventions, `etcdkit.attempts`, and the error recorded on failure; a stream
 * reconnect becomes a short span of its own.
 *
 * @example
 * ```ts
 * import * as otel from '@opentelemetry/api';
 * const etcd = new Etcd({ endpoints, hooks: createOpenTelemetryHooks(otel) });
 * ```
 */
export function createOpenTelemetryHooks(api: OpenTelemetryApi, options: OpenTelemetryHooksOptions = {}): EtcdHooks {
  const tracer = api.trace.getTracer(options.tracerName ?? 'etcdkit', options.tracerVersion);
  const spans = new Map<number, OpenTelemetrySpan>();
  return {
    onCallStart(event: CallStartEvent): void {
      const [service, method] = serviceAndMethod(event.path);
      const span = tracer.startSpan(`${service}/${method}`, {
        kind: api.SpanKind.CLIENT,
        attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method, 'etcdkit.operation': event.method },
      });
      setServer(span, event.endpoint);
      spans.set(event.callId, span);
    },
    onCallEnd(event: CallEndEvent): void {
      const span = spans.get(event.callId);
      if (span === undefined) return;
      spans.delete(event.callId);
      setServer(span, event.endpoint);
      span.setAttribute('etcdkit.attempts', event.attempts);
      if (event.outcome === 'error') {
        span.setAttribute('rpc.grpc.status_code', event.error.status);
        span.setAttribute('etcdkit.error_code', event.error.code);
        span.recordException(event.error);
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: event.error.message });
      } else {
        span.setAttribute('rpc.grpc.status_code', 0);
      }
      span.end();
    },
    onStreamReconnect(event: StreamReconnectEvent): void {
      const [service, method] = serviceAndMethod(event.method.replace('.', '/'));
      const span = tracer.startSpan(`${service}/${method} reconnect`, {
        kind: api.SpanKind.CLIENT,
        attributes: { 'rpc.system': 'grpc', 'etcdkit.operation': event.method, 'etcdkit.attempt': event.attempt },
      });
      setServer(span, event.endpoint);
      span.recordException(event.error);
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: event.error.message });
      span.end();
    },
  };
}
