import type { CallOptions } from '../connection/call-options.js';
import type { CallSpec, Connection } from '../connection/connection.js';
import { parseEndpoint } from '../connection/endpoints.js';
import type { RpcMethod } from '../connection/rpc-method.js';

/**
 * Validates a member endpoint argument (`host:port` or a client URL such as
 * `http://127.0.0.1:2379`, as `members()` reports them) and returns its `host:port`.
 * @internal
 */
export function memberAddress(endpoint: unknown, source: string): string {
  return parseEndpoint(endpoint, 'endpoint', source).address;
}

/**
 * Sends a unary call to the member at `endpoint` when one is given, otherwise to whichever
 * endpoint the client uses.
 * @internal
 */
export function sendTo<Req, Res>(
  connection: Connection,
  endpoint: string | undefined,
  method: RpcMethod<Req, Res>,
  request: Req,
  spec: CallSpec,
  options: CallOptions | undefined,
): Promise<Res> {
  if (endpoint === undefined) return connection.unary(method, request, spec, options);
  return connection.unaryOn(memberAddress(endpoint, spec.source), method, request, spec, options);
}
