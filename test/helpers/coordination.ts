/**
 * Helpers of the lock, election, STM and recipe suites: what is under a prefix, and whether a
 * promise is still pending after a while.
 */
import { type Etcd, Range } from 'etcdkit';

/** The keys under `prefix`, as text, oldest first. */
export async function keysUnder(client: Etcd, prefix: string): Promise<string[]> {
  const result = await client.range(Range.key(prefix).withPrefix().withSort('createRevision', 'ascend'));
  return result.kvs.map((kv) => kv.keyText());
}

/** How `promise` stands after `ms`: its value, its error, or `'pending'`. */
export async function stateAfter<T>(promise: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  try {
    return await Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise and its resolve function: a gate a test opens when it wants. */
export function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}
