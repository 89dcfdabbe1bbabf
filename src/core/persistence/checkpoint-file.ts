/**
 * Checkpoint files: a consumer's state plus the position it was taken at (read-model snapshot,
 * plugin snapshots). Written atomically, owner-only, with a checksum; read back only when every
 * check passes — anything else is rebuilt from the store, never trusted.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

export interface CheckpointFile<T> {
  kind: string;
  version: number;
  storeFingerprint: string | null;
  checkpoint: number | null;
  takenAt: string;
  state: T;
}

export type ReadCheckpointResult<T> = { status: 'missing' } | { status: 'invalid'; reason: string } | { status: 'ok'; body: CheckpointFile<T> };

function checksumOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Atomic (temp + fsync + rename), mode 0600, parent dir 0700; stores a sha256 checksum of the content. */
export async function writeCheckpointFile<T>(file: string, body: CheckpointFile<T>): Promise<void> {
  const content = JSON.stringify(body);
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  const handle = await fsp.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify({ checksum: checksumOf(content), content }));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, file);
}

export async function readCheckpointFile<T>(
  file: string,
  expect: { kind: string; version: number; validateState: (state: unknown) => string | null },
): Promise<ReadCheckpointResult<T>> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    return { status: 'invalid', reason: (error as Error).message };
  }
  let outer: { checksum?: unknown; content?: unknown };
  try {
    outer = JSON.parse(text) as typeof outer;
  } catch {
    return { status: 'invalid', reason: 'not JSON' };
  }
  if (typeof outer.content !== 'string' || typeof outer.checksum !== 'string') return { status: 'invalid', reason: 'no checksum' };
  if (checksumOf(outer.content) !== outer.checksum) return { status: 'invalid', reason: 'checksum mismatch' };
  const body = JSON.parse(outer.content) as CheckpointFile<T>;
  if (body.kind !== expect.kind) return { status: 'invalid', reason: `kind ${String(body.kind)}` };
  if (body.version !== expect.version) return { status: 'invalid', reason: `version ${String(body.version)}` };
  if (body.checkpoint !== null && !(Number.isSafeInteger(body.checkpoint) && body.checkpoint >= 0)) {
    return { status: 'invalid', reason: 'checkpoint is not a position' };
  }
  const problem = expect.validateState(body.state);
  if (problem) return { status: 'invalid', reason: problem };
  return { status: 'ok', body };
}

export class EventsMissingError extends Error {
  readonly code = 'EVENTS_MISSING';
  constructor(what: string, checkpoint: number, head: number, dense: boolean) {
    const missing = checkpoint - head;
    super(
      `${what} is at position ${checkpoint} but the event store ends at ${head}: ${dense ? '' : 'at least '}${missing} acknowledged ` +
        `event${missing === 1 ? ' is' : 's are'} missing (was the WAL lost?). To accept the loss and rebuild from what is left, ` +
        `start once with BRAMBLE_ACCEPT_EVENT_LOSS=${head}`,
    );
    this.name = 'EventsMissingError';
  }
}

/** Throws EventsMissingError when checkpoint > head, unless acceptLossAt === head. */
export function checkNotAheadOfStore(
  what: string,
  checkpoint: number | null,
  head: number,
  options: { acceptLossAt: number | null; dense: boolean },
): 'ok' | 'accepted' {
  if (checkpoint === null || checkpoint <= head) return 'ok';
  if (options.acceptLossAt === head) return 'accepted';
  throw new EventsMissingError(what, checkpoint, head, options.dense);
}
