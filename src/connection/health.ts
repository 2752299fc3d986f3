import { longToBigInt } from '../encoding/int64.js';
import type { StatusResponse } from '../generated/etcdserverpb/rpc.js';
import type { EndpointChannel } from './endpoint-channel.js';
import type { EndpointHealth } from './endpoint-info.js';
import { type EtcdError, NoLeaderError } from './errors.js';

/** Called when an endpoint's health becomes known, and on every change after. */
export type HealthListener = (healthy: boolean, endpoint: string, health: EndpointHealth) => void;

/** What the monitor needs from the connection. @internal */
export interface HealthHost {
  /** The endpoints to probe (the list can change between rounds). */
  channels(): readonly EndpointChannel[];
  /** One Maintenance.Status call on that endpoint only, without retries. */
  status(channel: EndpointChannel, timeoutMs: number): Promise<StatusResponse>;
  /** Makes calls avoid the endpoint for a while. */
  avoid(channel: EndpointChannel, error: EtcdError): void;
}

/** The longest a probe may wait for its answer. */
const MAX_PROBE_TIMEOUT_MS = 2_000;

/**
 * Probes every endpoint every `intervalMs` with a Maintenance.Status call (cheap, answered by
 * the member itself), records the result on the endpoint, makes calls avoid an endpoint that
 * does not answer or has no leader, and reports transitions. Its timer never keeps the process
 * alive; {@link HealthMonitor.stop} ends it.
 * @internal
 */
export class HealthMonitor {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly timeoutMs: number;

  constructor(
    private readonly host: HealthHost,
    private readonly intervalMs: number,
    private readonly listener: HealthListener | undefined,
  ) {
    this.timeoutMs = Math.min(intervalMs, MAX_PROBE_TIMEOUT_MS);
    this.schedule(0);
  }

  /** Stops probing; results of probes still running are dropped. Idempotent. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.round(), delayMs);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    const started = Date.now();
    await Promise.all(this.host.channels().map((channel) => this.probe(channel)));
    this.schedule(Math.max(0, this.intervalMs - (Date.now() - started)));
  }

  private async probe(channel: EndpointChannel): Promise<void> {
    let next: EndpointHealth;
    try {
      const status = await this.host.status(channel, this.timeoutMs);
      const checkedAt = Date.now();
      const leader = longToBigInt(status.leader);
      const memberId = status.header ? longToBigInt(status.header.memberId) : 0n;
      next =
        leader === 0n
          ? this.unhealthy(channel, checkedAt, 'no-leader', new NoLeaderError('the member reports no leader', {
              source: 'Maintenance.Status',
              endpoint: channel.address,
            }))
          : { status: 'healthy', checkedAt, memberId, leader, errors: status.errors };
    } catch (error) {
      next = this.unhealthy(channel, Date.now(), 'unreachable', error as EtcdError);
    }
    // Stopped, or the endpoint left the list (setEndpoints) while it was probed.
    if (this.stopped || !this.host.channels().includes(channel)) return;
    const previous = channel.health;
    channel.health = next;
    if (next.status === 'unhealthy') this.host.avoid(channel, next.error);
    if (previous.status === next.status) return;
    try {
      this.listener?.(next.status === 'healthy', channel.address, next);
    } catch (error) {
      process.emitWarning(
        `onHealthChange threw: ${error instanceof Error ? error.message : String(error)}`,
        'EtcdHookWarning',
      );
    }
  }

  private unhealthy(
    channel: EndpointChannel,
    checkedAt: number,
    reason: 'unreachable' | 'no-leader',
    error: EtcdError,
  ): EndpointHealth {
    const previous = channel.health;
    const since = previous.status === 'unhealthy' ? previous.since : checkedAt;
    return { status: 'unhealthy', checkedAt, since, reason, error };
  }
}
