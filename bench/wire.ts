/**
 * Just enough protobuf wire format for the floor client and the writer: reading varints and
 * walking length-delimited fields, without building objects. Requests are pre-encoded once
 * with the generated codecs (outside any measurement), so only decoding is hand-written here.
 */

/** Reads a varint at `pos`; returns the value (up to 2^53) and the position after it. */
export function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = buf[pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos];
    scale *= 128;
  }
}

/** Skips a field of wire type `wireType` at `pos`; returns the position after it. */
export function skipField(buf: Uint8Array, pos: number, wireType: number): number {
  switch (wireType) {
    case 0:
      while (buf[pos++]! >= 0x80);
      return pos;
    case 1:
      return pos + 8;
    case 2: {
      const [length, next] = readVarint(buf, pos);
      return next + length;
    }
    case 5:
      return pos + 4;
    default:
      throw new Error(`unsupported wire type ${wireType}`);
  }
}

/** The stamp the writer puts at the start of every watched value: epoch ms, float64 LE. */
export function nowStamp(): number {
  return performance.timeOrigin + performance.now();
}

/** What the floor's minimal watch decoder reports for one response. */
export interface WatchFrame {
  watchId: number;
  created: boolean;
  canceled: boolean;
  /** Number of events. */
  events: number;
}

/**
 * Walks a WatchResponse: its watch ID and created/canceled flags, and for each event the
 * stamp at the start of the event's value (kv field 5), handed to `onStamp`.
 */
export function walkWatchResponse(buf: Uint8Array, onStamp: (watchId: number, stamp: number) => void): WatchFrame {
  const frame: WatchFrame = { watchId: 0, created: false, canceled: false, events: 0 };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const end = buf.length;
  while (pos < end) {
    const [tag, afterTag] = readVarint(buf, pos);
    pos = afterTag;
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 2 && wireType === 0) {
      const [id, next] = readVarint(buf, pos);
      // int64 -1 arrives as 10 bytes of 0xff..; anything that large is "no watcher".
      frame.watchId = id > Number.MAX_SAFE_INTEGER / 2 ? -1 : id;
      pos = next;
    } else if (field === 3 && wireType === 0) {
      frame.created = buf[pos] !== 0;
      pos = skipField(buf, pos, 0);
    } else if (field === 4 && wireType === 0) {
      frame.canceled = buf[pos] !== 0;
      pos = skipField(buf, pos, 0);
    } else if (field === 11 && wireType === 2) {
      const [length, start] = readVarint(buf, pos);
      pos = start + length;
      frame.events++;
      const stamp = eventStamp(buf, view, start, pos);
      if (stamp !== undefined) onStamp(frame.watchId, stamp);
    } else {
      pos = skipField(buf, pos, wireType);
    }
  }
  return frame;
}

/** The stamp in the value of the event between `start` and `end`, if the value holds one. */
function eventStamp(buf: Uint8Array, view: DataView, start: number, end: number): number | undefined {
  let pos = start;
  while (pos < end) {
    const [tag, afterTag] = readVarint(buf, pos);
    pos = afterTag;
    if (tag === ((2 << 3) | 2)) {
      // Event.kv
      const [length, kvStart] = readVarint(buf, pos);
      const kvEnd = kvStart + length;
      let p = kvStart;
      while (p < kvEnd) {
        const [kvTag, afterKvTag] = readVarint(buf, p);
        p = afterKvTag;
        if (kvTag === ((5 << 3) | 2)) {
          const [valueLength, valueStart] = readVarint(buf, p);
          return valueLength >= 8 ? view.getFloat64(valueStart, true) : undefined;
        }
        p = skipField(buf, p, kvTag & 7);
      }
      return undefined;
    }
    pos = skipField(buf, pos, tag & 7);
  }
  return undefined;
}

/** Counts the `kvs` (field 2) of a RangeResponse without decoding them. */
export function countRangeKvs(buf: Uint8Array): number {
  let pos = 0;
  let count = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos);
    if (tag === ((2 << 3) | 2)) count++;
    pos = skipField(buf, afterTag, tag & 7);
  }
  return count;
}

/** Reads field `field` (a varint) of a flat message, such as LeaseGrantResponse.ID; 0 if absent. */
export function varintField(buf: Uint8Array, field: number): number {
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos);
    if (tag === ((field << 3) | 0)) return readVarint(buf, afterTag)[0];
    pos = skipField(buf, afterTag, tag & 7);
  }
  return 0;
}

/** Whether field `field` (a bool) of a flat message is set, such as TxnResponse.succeeded. */
export function boolField(buf: Uint8Array, field: number): boolean {
  return varintField(buf, field) !== 0;
}

/** The raw bytes of varint field `field` of a flat message (an int64 beyond 2^53 stays exact); undefined if absent. */
export function rawVarintField(buf: Uint8Array, field: number): Uint8Array | undefined {
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos);
    if (tag === ((field << 3) | 0)) {
      let end = afterTag;
      while (buf[end++]! >= 0x80);
      return buf.subarray(afterTag, end);
    }
    pos = skipField(buf, afterTag, tag & 7);
  }
  return undefined;
}
