import type { EndpointHealth } from './endpoint-info.js';
import type { EtcdHooks } from './hooks.js';

/** TLS settings for connecting to etcd over `https`. */
export interface TlsOptions {
  /** PEM certificate authority bundle; the system roots are used when omitted. */
  ca?: string | Buffer;
  /** PEM client certificate, for servers started with `--client-cert-auth`. */
  cert?: string | Buffer;
  /** PEM private key of {@link TlsOptions.cert}. */
  key?: string | Buffer;
  /** Overrides the name checked against the server certificate (`grpc.ssl_target_name_override`). */
  serverName?: string;
}

/** Username and password for etcd's authentication. */
export interface AuthCredentials {
  /** The etcd user name. */
  username: string;
  /** The user's password. */
  password: string;
}

/** Tuning of the automatic retries of calls that are safe to repeat. */
export interface RetryOptions {
  /**
   * Attempts per call at most, the first included. Attempts that failed before the request
   * left the client (no connection could be made to any endpoint) do not count: those are
   * retried until the call's deadline.
   * @defaultValue 5
   */
  maxAttempts?: number;
  /**
   * Backoff before the first retry; doubled each time, with full jitter.
   * @defaultValue 50
   */
  initialBackoffMs?: number;
  /**
   * Upper bound of one backoff.
   * @defaultValue 1000
   */
  maxBackoffMs?: number;
}

/** Options of {@link Etcd}. */
export interface EtcdOptions {
  /**
   * The members to talk to: `host:port`, `http://host:port` or `https://host:port`.
   * @defaultValue `['127.0.0.1:2379']`
   */
  endpoints?: string[];
  /** TLS settings; implied (with system roots) by any `https://` endpoint. */
  tls?: TlsOptions | boolean;
  /** Log in with these credentials; the token is sent with every call and refreshed when the server rejects it. */
  auth?: AuthCredentials;
  /** A token obtained elsewhere, sent with every call (not refreshable unless {@link EtcdOptions.auth} is set too). */
  authToken?: string;
  /**
   * Default deadline of each call, retries included.
   * @defaultValue 30000
   */
  timeoutMs?: number;
  /** Automatic retries of reads, and of writes that provably never reached a server. */
  retry?: RetryOptions;
  /**
   * Interval of HTTP/2 keepalive pings on connections with active calls, which detect a dead
   * link. etcd 3.4 rejects pings more frequent than every 5 s (`--grpc-keepalive-min-time`).
   * @defaultValue 10000
   */
  keepAliveTimeMs?: number;
  /**
   * How long a keepalive ping may go unanswered before the connection is declared dead.
   * @defaultValue 5000
   */
  keepAliveTimeoutMs?: number;
  /**
   * Largest response accepted, in bytes. Watch catch-up replies can be large.
   * @defaultValue 2147483647 (as the Go client)
   */
  maxReceiveMessageBytes?: number;
  /** Extra grpc-js channel options, merged last. */
  grpcOptions?: Record<string, string | number>;
  /**
   * Probe every endpoint this often with a Maintenance.Status call (each probe waits at most
   * the interval, and never more than 2 s). An endpoint that does not answer, or answers without
   * a leader, is avoided by calls until a later probe or call succeeds; `etcd.info()` shows each
   * endpoint's `health`. Probing connects to every endpoint at once instead of lazily.
   * Like EV::Etcd's `health_interval`. Off by default.
   */
  healthIntervalMs?: number;
  /**
   * Called when an endpoint's health first becomes known and whenever it changes (healthy to
   * unhealthy or back), with the probe's details. Needs {@link EtcdOptions.healthIntervalMs}.
   * Like EV::Etcd's `on_health_change(healthy, endpoint)`.
   */
  onHealthChange?: (healthy: boolean, endpoint: string, health: EndpointHealth) => void;
  /**
   * Refresh the endpoint list from the cluster's member list this often: the client URLs of
   * voting members (learners are left out) replace the list, and a URL whose member answers
   * with another cluster's ID is rejected. Like the Go client's `AutoSyncInterval`. Off by
   * default; `etcd.cluster.syncEndpoints()` syncs once on demand.
   */
  autoSyncIntervalMs?: number;
  /** Observability hooks: per-call start and end, stream reconnects (see {@link EtcdHooks}). */
  hooks?: EtcdHooks;
}
