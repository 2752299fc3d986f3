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

/** Waits (bounded) until `count` keys are under `prefix`: that many contenders are queued. */
export async function waitForKeys(client: Etcd, prefix: string, count: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while ((await keysUnder(client, prefix)).length !== count) {
    if (Date.now() > deadline) throw new Error(`expected ${count} keys under ${prefix}: ${(await keysUnder(client, prefix)).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Starts a wait, lets its key join the `queued - 1` already under `prefix`, interrupts it (an
 * abort, a revoked lease...), and returns how the wait ended (`undefined` if it did not reject)
 * and the keys left under `prefix`.
 */
export async function interruptQueued(
  client: Etcd,
  prefix: string,
  queued: number,
  start: () => Promise<unknown>,
  interrupt: () => unknown,
): Promise<{ error: unknown; keys: string[] }> {
  const waiting = start().then(
    () => undefined,
    (error: unknown) => error,
  );
  await waitForKeys(client, prefix, queued);
  await interrupt();
  const error = await waiting;
  return { error, keys: await keysUnder(client, prefix) };
}
