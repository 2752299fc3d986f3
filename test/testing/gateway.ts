/** Minimal etcd JSON-gateway calls for the testing-harness tests (the SDK is not used here). */

export const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

interface RangeReply {
  kvs?: { key: string; value?: string }[];
}

export async function put(endpoint: string, key: string, value: string, timeoutMs = 5_000): Promise<void> {
  const res = await fetch(`http://${endpoint}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(key), value: b64(value) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`put ${key} failed: HTTP ${res.status} ${await res.text()}`);
  await res.text();
}

export async function get(endpoint: string, key: string, timeoutMs = 5_000): Promise<string | undefined> {
  const res = await fetch(`http://${endpoint}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(key) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`range ${key} failed: HTTP ${res.status} ${await res.text()}`);
  const reply = (await res.json()) as RangeReply;
  const value = reply.kvs?.[0]?.value;
  return value === undefined ? (reply.kvs?.length ? '' : undefined) : Buffer.from(value, 'base64').toString('utf8');
}

/** True when a process with this pid exists (signal 0 probes without signalling). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
