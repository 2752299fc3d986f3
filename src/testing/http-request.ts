import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** @internal */
export interface HttpReply {
  status: number;
  body: string;
}

/**
 * One HTTP/1.1 request on a fresh connection (no agent, so no pooled socket outlives the call).
 *
 * @throws the socket or abort error when the server does not answer within `timeoutMs`.
 * @internal
 */
export function httpRequest(
  url: string,
  options: { method?: string; body?: string; timeoutMs: number; tls?: { ca: Buffer; cert?: Buffer; key?: Buffer } | undefined },
): Promise<HttpReply> {
  const send = url.startsWith('https:') ? httpsRequest : request;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        ...options.tls,
        method: options.method ?? 'GET',
        agent: false,
        signal: AbortSignal.timeout(options.timeoutMs),
        headers: options.body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
