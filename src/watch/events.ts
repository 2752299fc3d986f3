import { type Event as RawEvent, Event_EventType } from '../generated/mvccpb/kv.js';
import { type KeyValue, type ResponseHeader, toKeyValue } from '../kv/key-value.js';

/** One change to one key. */
export interface WatchEvent {
  /** `'put'` for a creation or update, `'delete'` for a deletion. */
  type: 'put' | 'delete';
  /** The key-value after the change; for a delete, the key with `modRevision` set to the deletion's revision and an empty value. */
  kv: KeyValue;
  /** The key-value before the change, when the watch asked for it with `withPrevKv` and the key existed. */
  prevKv: KeyValue | undefined;
}

/**
 * What a watcher yields: every event of one or more whole revisions (a revision's events are
 * never split across batches), or a progress notification.
 */
export interface WatchBatch {
  /** The response header; `header.revision` is the store revision when the batch was sent. */
  header: ResponseHeader;
  /** The events, in revision order; empty for a progress notification. */
  events: WatchEvent[];
  /**
   * True for a progress notification: the watcher has seen every change up to
   * `header.revision`, so a cache fed by it is current at that revision.
   */
  progress: boolean;
}

/** @internal */
export function toWatchEvent(raw: RawEvent, strip: number): WatchEvent {
  return {
    type: raw.type === Event_EventType.DELETE ? 'delete' : 'put',
    kv: toKeyValue(raw.kv!, strip),
    prevKv: raw.prevKv === undefined ? undefined : toKeyValue(raw.prevKv, strip),
  };
}
