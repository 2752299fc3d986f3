import * as grpc from '@grpc/grpc-js';
import { AuthNotEnabledError } from './errors.js';
import type { AuthCredentials } from './options.js';

const NO_METADATA = new grpc.Metadata();

/**
 * Holds the auth token sent with every call. With credentials it logs in lazily, once for all
 * concurrent callers, and logs in again when a call reports the token invalid; a preset token is
 * used as given.
 */
export class AuthSession {
  private current: grpc.Metadata;
  private loggedIn = false;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly credentials: AuthCredentials | undefined,
    presetToken: string | undefined,
    private readonly authenticate: (credentials: AuthCredentials) => Promise<string>,
  ) {
    this.current = presetToken === undefined ? NO_METADATA : AuthSession.metadataFor(presetToken);
    this.loggedIn = credentials === undefined;
  }

  private static metadataFor(token: string): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set('token', token);
    return metadata;
  }

  /** The metadata to send with the next call. */
  get metadata(): grpc.Metadata {
    return this.current;
  }

  /** Whether a login must happen before the next call. */
  get needsLogin(): boolean {
    return !this.loggedIn;
  }

  /** Whether an "invalid auth token" can be repaired by logging in again. */
  get canRefresh(): boolean {
    return this.credentials !== undefined;
  }

  /** Logs in unless already logged in; concurrent callers share one Authenticate call. */
  ensureLoggedIn(): Promise<void> {
    if (this.loggedIn) return Promise.resolve();
    return this.login();
  }

  /**
   * Logs in again after a call sent `stale` and was told the token is invalid. If another call
   * already replaced that token, nothing is sent.
   */
  refresh(stale: grpc.Metadata): Promise<void> {
    if (this.current !== stale && this.loggedIn) return Promise.resolve();
    this.loggedIn = false;
    return this.login();
  }

  private login(): Promise<void> {
    this.pending ??= this.authenticate(this.credentials!)
      .then(
        (token) => {
          this.current = AuthSession.metadataFor(token);
          this.loggedIn = true;
        },
        (error: unknown) => {
          // A server with auth disabled accepts calls without a token.
          if (error instanceof AuthNotEnabledError) {
            this.current = NO_METADATA;
            this.loggedIn = true;
            return;
          }
          throw error;
        },
      )
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}
