import { sharedAbortController } from './backoff.js';
import type { EndpointChannel } from './endpoint-channel.js';
import type { EtcdError } from './errors.js';

/** How long a failed endpoint is avoided: doubles per consecutive failure, up to {@link MAX_AVOID_MS}. */
const BASE_AVOID_MS = 250;
const MAX_AVOID_MS = 5_000;

/**
 * Chooses the endpoint for each call. Calls stick to one pinned endpoint (so a client sees one
 * member's view and reuses one connection) and move to the next usable one when it fails.
 */
export class EndpointPool {
  private pinned = 0;
  private list: readonly EndpointChannel[];
  private replaced: AbortController | undefined;

  constructor(channels: readonly EndpointChannel[]) {
    this.list = channels;
  }

  /** The endpoints, in order. */
  get channels(): readonly EndpointChannel[] {
    return this.list;
  }

  /**
   * Replaces the endpoint list (`channels` must not be empty). The pin stays on its endpoint
   * when that endpoint remains, and moves to the first one otherwise.
   */
  replace(channels: readonly EndpointChannel[]): void {
    const pinned = this.current();
    this.list = channels;
    this.pinned = Math.max(0, channels.indexOf(pinned));
    this.replaced?.abort();
    this.replaced = undefined;
  }

  /**
   * `undefined` when some endpoint's channel can take a call now. Otherwise every channel is in
   * TRANSIENT_FAILURE, where a call fails at once without reaching the network, and the result
   * are signals of which one aborts when a channel leaves that state or the list changes.
   */
  allFailing(): AbortSignal[] | undefined {
    const leaving: AbortSignal[] = [];
    for (const channel of this.list) {
      const left = channel.leftTransientFailure();
      if (left === undefined) return undefined;
      leaving.push(left);
    }
    this.replaced ??= sharedAbortController();
    leaving.push(this.replaced.signal);
    return leaving;
  }

  /** The endpoint the next call should use. */
  pick(): EndpointChannel {
    const channels = this.channels;
    const current = channels[this.pinned]!;
    if (channels.length === 1) return current;
    const now = Date.now();
    if (!current.isAvoided(now)) return current;
    for (let step = 1; step < channels.length; step++) {
      const index = (this.pinned + step) % channels.length;
      if (!channels[index]!.isAvoided(now)) {
        this.pinned = index;
        return channels[index]!;
      }
    }
    // Every endpoint is failing: try the one whose penalty ends first.
    let best = this.pinned;
    for (let index = 0; index < channels.length; index++) {
      if (channels[index]!.avoidUntil < channels[best]!.avoidUntil) best = index;
    }
    this.pinned = best;
    return channels[best]!;
  }

  /** The endpoint calls are currently pinned to. */
  current(): EndpointChannel {
    return this.channels[this.pinned]!;
  }

  /** Records a failure that says the endpoint cannot serve now, and moves the pin away from it. */
  failed(channel: EndpointChannel, error: EtcdError): void {
    channel.failures++;
    channel.lastError = error;
    channel.avoidUntil = Date.now() + Math.min(MAX_AVOID_MS, BASE_AVOID_MS * 2 ** (channel.failures - 1));
    if (this.channels[this.pinned] === channel && this.channels.length > 1) {
      this.pinned = (this.pinned + 1) % this.channels.length;
    }
  }

  /** Records a success, clearing the endpoint's failure record. */
  succeeded(channel: EndpointChannel): void {
    if (channel.failures !== 0) {
      channel.failures = 0;
      channel.avoidUntil = 0;
    }
  }
}
