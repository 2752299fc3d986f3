type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: Error };

/** The outcome of most settlements (a creation acknowledged, a watcher cancelled), shared. */
const OK_UNDEFINED: Outcome<undefined> = Object.freeze({ ok: true, value: undefined });

/**
 * The outcome of something that happens once (a watcher's creation, its end), as a promise
 * made only when somebody asks for it. Most of 10,000 watchers never have `ended` read, and an
 * eager promise with its resolving functions and a guard against unhandled rejection cost
 * about 250 B each. The first settlement wins. A rejection is never reported as unhandled:
 * whoever awaits the promise sees it, as with an eager promise that had a `catch` attached.
 * @internal
 */
export class LazyOutcome<T> {
  private outcome: Outcome<T> | undefined;
  private made: Promise<T> | undefined;
  private settle: ((outcome: Outcome<T>) => void) | undefined;

  /** The promise of the outcome, made on the first call. */
  get promise(): Promise<T> {
    if (this.made === undefined) {
      const outcome = this.outcome;
      this.made =
        outcome === undefined
          ? new Promise<T>((resolve, reject) => {
              this.settle = (result) => (result.ok ? resolve(result.value) : reject(result.error));
            })
          : outcome.ok
            ? Promise.resolve(outcome.value)
            : Promise.reject(outcome.error);
      this.made.catch(() => undefined);
    }
    return this.made;
  }

  /** Whether it has settled. */
  get settled(): boolean {
    return this.outcome !== undefined;
  }

  resolve(value: T): void {
    this.finish(value === undefined ? (OK_UNDEFINED as Outcome<T>) : { ok: true, value });
  }

  reject(error: Error): void {
    this.finish({ ok: false, error });
  }

  private finish(outcome: Outcome<T>): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    const settle = this.settle;
    this.settle = undefined;
    settle?.(outcome);
  }
}
