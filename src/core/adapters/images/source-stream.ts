/**
 * Reading a source file exactly once: its bytes go to one consumer (a decompressor's or tar's
 * stdin, or nowhere) while their SHA-256 is computed and progress counts them.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ProgressReporter } from './progress';

export interface PumpResult {
  sha256: string;
  bytes: number;
}

/** Streams `path` into `dest` (or only hashes it when dest is null), hashing and counting on the way. */
export async function pumpSource(
  path: string,
  dest: Writable | null,
  progress: ProgressReporter,
  signal?: AbortSignal,
): Promise<PumpResult> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      progress.addBytes(chunk.length);
      callback(null, dest ? chunk : undefined);
    },
  });
  const input = createReadStream(path, { highWaterMark: 1024 * 1024 });
  if (dest) await pipeline(input, tap, dest, { signal });
  else {
    tap.resume();
    await pipeline(input, tap, { signal });
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
