import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import type { CallOptions } from '../connection/call-options.js';
import { SnapshotCorruptError } from '../connection/errors.js';
import type { SnapshotResponse } from '../generated/etcdserverpb/rpc.js';

/** Bytes of the SHA-256 etcd appends to a snapshot. */
const HASH_BYTES = 32;
/** bbolt files are a whole number of 512-byte sectors, so a hashed snapshot's size is 32 more. */
const SECTOR = 512;

/** A snapshot file written by `saveSnapshot` or checked by {@link verifySnapshot}. */
export interface SavedSnapshot {
  /** The file. */
  path: string;
  /** Its size in bytes: the database plus the 32-byte hash. */
  size: number;
  /** The SHA-256 of the database, as hex (the file's last 32 bytes). */
  sha256: string;
}

/**
 * Hashes everything that passes except the last 32 bytes, which it keeps aside: at the end of
 * the stream those must equal the digest.
 */
class TrailingHashCheck {
  private readonly hash: Hash = createHash('sha256');
  private tail: Buffer = Buffer.alloc(0);
  size = 0;

  update(chunk: Uint8Array): void {
    this.size += chunk.byteLength;
    const joined = Buffer.concat([this.tail, chunk]);
    const cut = Math.max(0, joined.length - HASH_BYTES);
    if (cut > 0) this.hash.update(joined.subarray(0, cut));
    this.tail = joined.subarray(cut);
  }

  /** The digest as hex, or `undefined` when it does not match the trailing bytes. */
  finish(): string | undefined {
    const digest = this.hash.digest();
    return this.tail.length === HASH_BYTES && digest.equals(this.tail) ? digest.toString('hex') : undefined;
  }
}

/**
 * Yields the blobs of a snapshot stream unchanged and checks the trailing hash at its end.
 * @internal
 */
export async function* verifiedSnapshot(
  stream: AsyncIterable<SnapshotResponse>,
  source: string,
): AsyncGenerator<Uint8Array, void, undefined> {
  const check = new TrailingHashCheck();
  for await (const message of stream) {
    if (message.blob.length === 0) continue;
    check.update(message.blob);
    yield message.blob;
  }
  if (check.finish() === undefined) {
    throw new SnapshotCorruptError(`the snapshot stream (${check.size} bytes) does not end with the SHA-256 of its data`, {
      source,
    });
  }
}

/**
 * Writes a snapshot stream to `path.part`, then renames it to `path` once the stream ended
 * with a matching hash and the file is flushed to disk. On any failure the partial file is
 * removed.
 * @internal
 */
export async function saveSnapshot(
  path: string,
  stream: (options: CallOptions | undefined) => AsyncIterable<Uint8Array>,
  options: CallOptions | undefined,
): Promise<SavedSnapshot> {
  const partial = `${path}.part`;
  const file = await open(partial, 'w');
  let done = false;
  try {
    const check = new TrailingHashCheck();
    for await (const chunk of stream(options)) {
      check.update(chunk);
      await file.write(chunk);
    }
    await file.sync();
    await file.close();
    const sha256 = check.finish();
    // The stream itself already failed on a mismatch; this guards the bytes written.
    if (sha256 === undefined) {
      throw new SnapshotCorruptError('the written snapshot does not match its hash', { source: 'Maintenance.saveSnapshot' });
    }
    await rename(partial, path);
    done = true;
    return { path, size: check.size, sha256 };
  } finally {
    if (!done) {
      await file.close().catch(() => undefined);
      await rm(partial, { force: true });
    }
  }
}

/**
 * Checks a snapshot file (from `saveSnapshot` or `etcdctl snapshot save`): its last 32 bytes
 * must be the SHA-256 of the rest, as `etcdctl snapshot restore` requires.
 *
 * @throws `SnapshotCorruptError` when the file is truncated, has no hash, or the hash does not
 * match; the file system's own error when it cannot be read.
 */
export async function verifySnapshot(path: string): Promise<SavedSnapshot> {
  const source = 'verifySnapshot';
  const { size } = await stat(path);
  if (size % SECTOR !== HASH_BYTES) {
    throw new SnapshotCorruptError(`${path} (${size} bytes) is not a database followed by its SHA-256`, { source });
  }
  const check = new TrailingHashCheck();
  for await (const chunk of createReadStream(path)) check.update(chunk as Buffer);
  const sha256 = check.finish();
  if (sha256 === undefined) throw new SnapshotCorruptError(`${path} does not match its SHA-256`, { source });
  return { path, size, sha256 };
}
