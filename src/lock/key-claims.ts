import type { WaitScope } from './session-scope.js';

/**
 * In-process order of the holds that would use one etcd key. A lock or campaign key is
 * `<name>/<lease hex>`, so two holds on one name through one session share a key, and etcd would
 * let both "hold" it at once (the Go client has the same trap). Each hold claims the key here
 * first and waits for the previous claimant to finish, so they take turns instead.
 * @internal
 */
export class KeyClaims {
  /** The process-wide claims. A key names its lease, so keys of different holders never meet here. */
  static readonly shared = new KeyClaims();

  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Waits for the key's earlier claimants; resolves with the function that ends this claim
   * (idempotent). If `scope` aborts first, rejects, and the queue still moves on in order.
   */
  async claim(key: Buffer, scope: WaitScope): Promise<() => void> {
    const id = key.toString('hex');
    const previous = this.tails.get(id);
    const end = this.enter(id);
    if (previous === undefined) return end;
    try {
      await scope.race(previous, () => undefined);
      return end;
    } catch (error) {
      // Our turn is skipped, but only once the earlier claimant is done.
      void previous.then(end);
      throw error;
    }
  }

  /** Claims the key only if nobody in this process has it; `undefined` otherwise. */
  tryClaim(key: Buffer): (() => void) | undefined {
    const id = key.toString('hex');
    return this.tails.has(id) ? undefined : this.enter(id);
  }

  private enter(id: string): () => void {
    let finish!: () => void;
    const mine = new Promise<void>((resolve) => (finish = resolve));
    this.tails.set(id, mine);
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      finish();
      if (this.tails.get(id) === mine) this.tails.delete(id);
    };
    return end;
  }
}
