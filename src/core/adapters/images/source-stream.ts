/**
 * Reading a source file exactly once: its bytes go to one consumer (a decompressor's or tar's
 * stdin, or nowhere) while their SHA-256 is computed and progress counts them.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { ProgressReporter } from './progress';

export interface PumpResult {
  sha256: string;
  bytes: number;
}

/** Resolves when `dest` can take more, or is gone. */
function drainedOrGone(dest: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      dest.off('drain', done);
      dest.off('close', done);
      dest.off('error', done);
      resolve();
    };
    dest.on('drain', done);
    dest.on('close', done);
    dest.on('error', done);
  });
}

/**
 * Streams `path` into `dest` (or only hashes it when dest is null), hashing and counting on the way.
 * The whole file is always read and hashed, even when `dest` stops taking it: GNU tar exits at the
 * end-of-archive blocks and leaves the record padding after them unread, which is no error (the
 * consumer's own exit status tells whether it failed). Rejects only when the source cannot be read
 * or `signal` is aborted.
 */
export async function pumpSource(
  path: string,
  dest: Writable | null,
  progress: ProgressReporter,
  signal?: AbortSignal,
): Promise<PumpResult> {
  const hash = createHash('sha256');
  let bytes = 0;
  let open = dest !== null;
  const gone = (): void => {
    open = false;
  };
  dest?.on('close', gone);
  dest?.on('error', gone); // EPIPE: the consumer exited; its exit status is what counts
  const input = createReadStream(path, { highWaterMark: 1024 * 1024 });
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      if (signal?.aborted) throw new Error('aborted');
      hash.update(chunk);
      bytes += chunk.length;
      progress.addBytes(chunk.length);
      if (open && dest && !dest.write(chunk)) await drainedOrGone(dest);
    }
    if (open && dest) dest.end();
  } finally {
    input.destroy();
    dest?.off('close', gone);
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** First bytes of a file (fewer when it is shorter). */
export async function readHead(path: string, length: number, position = 0): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
