import { InvalidArgumentError } from './errors.js';

/** One parsed endpoint. */
export interface ParsedEndpoint {
  /** `host:port`, as given to grpc-js. */
  address: string;
  /** Whether the endpoint asked for TLS with an `https://` scheme. */
  secure: boolean;
}

const SOURCE = 'new Etcd';

/**
 * Parses `host:port`, `http://host:port` or `https://host:port` (IPv6 hosts in brackets).
 * `at` is the position in `options.endpoints`, or the name of the argument for errors.
 */
export function parseEndpoint(input: unknown, at: number | string, source = SOURCE): ParsedEndpoint {
  const argument = typeof at === 'number' ? `options.endpoints[${at}]` : at;
  if (typeof input !== 'string' || input.trim() === '') {
    throw new InvalidArgumentError(argument, 'expected a non-empty "host:port" string', { source });
  }
  let rest = input.trim();
  let secure = false;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name !== 'http' && name !== 'https') {
      throw new InvalidArgumentError(argument, `unsupported scheme "${name}" (use http or https)`, { source });
    }
    secure = name === 'https';
    rest = rest.slice(scheme[0].length).replace(/\/+$/, '');
  }
  const match = /^(\[[0-9a-f:.]+\]|[^:/[\]]+):(\d{1,5})$/i.exec(rest);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw new InvalidArgumentError(argument, `"${input}" is not of the form host:port`, { source });
  }
  return { address: `${match[1]}:${port}`, secure };
}

/** Parses and de-duplicates the endpoint list (`options.endpoints`, or the named argument). */
export function parseEndpoints(input: unknown, argument = 'options.endpoints', source = SOURCE): ParsedEndpoint[] {
  if (input === undefined && argument === 'options.endpoints') return [{ address: '127.0.0.1:2379', secure: false }];
  if (!Array.isArray(input) || input.length === 0) {
    throw new InvalidArgumentError(argument, 'expected a non-empty array of "host:port" strings', { source });
  }
  const seen = new Map<string, ParsedEndpoint>();
  input.forEach((value, index) => {
    const parsed = parseEndpoint(value, `${argument}[${index}]`, source);
    if (!seen.has(parsed.address)) seen.set(parsed.address, parsed);
  });
  return [...seen.values()];
}
