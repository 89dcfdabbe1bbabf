/**
 * Checkpoint files: a state built from the event store (the core read models, a plugin's view),
 * saved with the global position it was built up to, so a restart replays only the tail.
 *
 * Such a file is a claim about the store ("I have seen everything up to position N"), and it is
 * trusted only when it proves itself:
 * - it is written atomically (temp file, fsync, rename, fsync of the directory), owner-only;
 * - it carries a sha256 checksum of its content, and its fields and state are checked against a
 *   schema on every read: anything else is reported `invalid` (the caller rebuilds from the store);
 * - a valid file that is AHEAD of the store means acknowledged events are missing (a lost WAL, a
 *   store restored from an older backup): `checkNotAheadOfStore` refuses to start, unless the
 *   admin accepts that exact loss with BRAMBLE_ACCEPT_EVENT_LOSS=<the store's current head>.
 *
 * On disk: one JSON object, `{"checksum":"sha256:<hex>", "kind": ..., "version": ..., ...}`; the
 * checksum is the sha256 of `JSON.stringify` of the object without `checksum` (key order as
 * written), so a file edited by hand (or by jq) is not trusted either.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { JsonLogger, type Logger } from '../logging/logger';
import { isPlainObject } from '../domain/shared/json';

export interface CheckpointFile<T> {
  /** What the file holds, e.g. `read-models` or `plugin-dhcp`: a file of another kind is invalid. */
  kind: string;
  /** Version of the state's layout and of the logic that built it: another version is invalid. */
  version: number;
  /** Id of the store's first event (null for an empty store): tells one store from another. */
  storeFingerprint: string | null;
  /** Global position of the last event folded into `state` (null: none). */
  checkpoint: number | null;
  /** ISO-8601 time it was written. */
  takenAt: string;
  state: T;
}

export type ReadCheckpointResult<T> =
  { status: 'missing' } | { status: 'invalid'; reason: string } | { status: 'ok'; body: CheckpointFile<T> };

/** The environment variable that accepts a loss of events, set to the store's head position. */
export const ACCEPT_EVENT_LOSS_ENV = 'BRAMBLE_ACCEPT_EVENT_LOSS';
export const EVENTS_MISSING = 'EVENTS_MISSING';

const CHECKSUM_PREFIX = 'sha256:';
const FIELDS = ['checksum', 'kind', 'version', 'storeFingerprint', 'checkpoint', 'takenAt', 'state'];

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Writes `body` atomically: a temp file next to `file` (mode 0600, whatever the umask), fsync,
 * rename over `file`, fsync of the directory. A missing parent directory is created 0700 (an
 * existing one is left as it is: the data directory itself is secured at start, see data-dir.ts).
 */
export async function writeCheckpointFile<T>(file: string, body: CheckpointFile<T>): Promise<void> {
  // Fixed key order: the checksum covers exactly this text.
  const ordered: CheckpointFile<T> = {
    kind: body.kind,
    version: body.version,
    storeFingerprint: body.storeFingerprint,
    checkpoint: body.checkpoint,
    takenAt: body.takenAt,
    state: body.state,
  };
  const problem = checkFields(ordered);
  if (problem) throw new TypeError(`checkpoint file ${file}: ${problem}`);
  const text = JSON.stringify(ordered);
  const content = `{"checksum":${JSON.stringify(CHECKSUM_PREFIX + sha256(text))},${text.slice(1)}`;
  const dir = path.dirname(file);
  // The directories created here are 0700 whatever the umask (an existing one is left as it is).
  const created = await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) {
    for (let d = dir; d.length >= created.length; d = path.dirname(d)) await fsp.chmod(d, 0o700);
  }
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  // 'wx': a fresh file, so the mode given here is the one it gets (umask aside: fchmod below).
  const handle = await fsp.open(tmp, 'wx', 0o600);
  try {
    try {
      await handle.chmod(0o600);
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, file);
  } catch (error) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
  await fsyncDir(dir);
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Reads and checks a checkpoint file: JSON, checksum, kind, version, field types (checkpoint a
 * safe integer ≥ 0 or null, storeFingerprint a string or null, takenAt a time), no unknown field,
 * and `validateState(state)` (returns null when valid, else the reason). Never throws for a bad
 * file: `invalid` with the reason (the caller rebuilds from the store and never trusts it).
 */
export async function readCheckpointFile<T>(
  file: string,
  expect: { kind: string; version: number; validateState: (state: unknown) => string | null },
): Promise<ReadCheckpointResult<T>> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { status: 'missing' };
    return { status: 'invalid', reason: `cannot read it: ${code ?? (error as Error).message}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { status: 'invalid', reason: `not JSON: ${(error as Error).message}` };
  }
  if (!isPlainObject(parsed)) return { status: 'invalid', reason: 'not a JSON object' };
  const { checksum, ...rest } = parsed;
  if (typeof checksum !== 'string' || !checksum.startsWith(CHECKSUM_PREFIX)) {
    return { status: 'invalid', reason: 'no checksum (written by an older bramble, or not by bramble)' };
  }
  if (sha256(JSON.stringify(rest)) !== checksum.slice(CHECKSUM_PREFIX.length)) {
    return { status: 'invalid', reason: 'checksum mismatch: the content was changed or damaged after it was written' };
  }
  for (const key of Object.keys(parsed)) {
    if (!FIELDS.includes(key)) return { status: 'invalid', reason: `unknown field ${JSON.stringify(key)}` };
  }
  const body = rest as unknown as CheckpointFile<T>;
  if (body.kind !== expect.kind)
    return { status: 'invalid', reason: `kind ${JSON.stringify(body.kind)}, expected ${JSON.stringify(expect.kind)}` };
  if (body.version !== expect.version)
    return { status: 'invalid', reason: `version ${JSON.stringify(body.version)}, expected ${expect.version}` };
  const problem = checkFields(body);
  if (problem) return { status: 'invalid', reason: problem };
  let stateProblem: string | null;
  try {
    stateProblem = expect.validateState(body.state);
  } catch (error) {
    stateProblem = `state check failed: ${(error as Error).message}`;
  }
  if (stateProblem !== null) return { status: 'invalid', reason: `state: ${stateProblem}` };
  return { status: 'ok', body };
}

function checkFields(body: CheckpointFile<unknown>): string | null {
  if (typeof body.kind !== 'string' || body.kind.length === 0) return 'kind: not a non-empty string';
  if (!Number.isSafeInteger(body.version) || body.version < 0) return 'version: not an integer ≥ 0';
  if (body.storeFingerprint !== null && typeof body.storeFingerprint !== 'string') return 'storeFingerprint: not a string or null';
  if (body.checkpoint !== null && (!Number.isSafeInteger(body.checkpoint) || body.checkpoint < 0)) {
    return `checkpoint: not a position (an integer ≥ 0) or null: ${JSON.stringify(body.checkpoint)}`;
  }
  if (typeof body.takenAt !== 'string' || Number.isNaN(Date.parse(body.takenAt))) return 'takenAt: not an ISO-8601 time';
  if (!('state' in body) || body.state === undefined) return 'state: missing';
  return null;
}

/**
 * A checkpoint (of the read models, of a plugin) is ahead of the event store: events that were
 * acknowledged are not in the store any more. Start-up refuses with this; the message says how
 * many and how to accept the loss deliberately.
 */
export class EventsMissingError extends Error {
  readonly code = EVENTS_MISSING;
  /** How many positions are missing (events when positions are dense, else a lower bound of 1). */
  readonly missing: number;

  constructor(
    readonly what: string,
    readonly checkpoint: number,
    readonly head: number,
    readonly dense: boolean,
    /** A BRAMBLE_ACCEPT_EVENT_LOSS value that was set but does not match this loss. */
    readonly acceptLossAt: number | null = null,
  ) {
    const missing = dense ? checkpoint - head : 1;
    const count = dense
      ? `${missing} acknowledged ${missing === 1 ? 'event is' : 'events are'} missing (was the WAL lost?)`
      : 'at least 1 acknowledged event is missing (was the store restored from an older backup?)';
    const stale =
      acceptLossAt === null
        ? ''
        : ` (${ACCEPT_EVENT_LOSS_ENV}=${acceptLossAt} is set, but it names another head position: it accepted an earlier loss, not this one)`;
    super(
      `${what} is at position ${checkpoint} but the event store ends at ${head}: ${count}.` +
        ` To accept the loss and rebuild from what is left, start once with ${ACCEPT_EVENT_LOSS_ENV}=${head}${stale}`,
    );
    this.name = 'EventsMissingError';
    this.missing = missing;
  }
}

let defaultLogger: Logger | undefined;

/**
 * Throws EventsMissingError when `checkpoint` is ahead of the store's `head`, unless
 * `acceptLossAt === head` (the admin accepted exactly this loss): then logs a warning and returns
 * 'accepted', and the caller drops its checkpoint and rebuilds from what is left. 'ok' otherwise.
 * `dense`: positions have no gaps (sqlite), so the difference is the number of missing events.
 */
export function checkNotAheadOfStore(
  what: string,
  checkpoint: number | null,
  head: number,
  options: { acceptLossAt: number | null; dense: boolean; logger?: Logger },
): 'ok' | 'accepted' {
  if (checkpoint === null || checkpoint <= head) return 'ok';
  if (options.acceptLossAt !== head) throw new EventsMissingError(what, checkpoint, head, options.dense, options.acceptLossAt);
  const logger = options.logger ?? (defaultLogger ??= new JsonLogger('warn', 'persistence'));
  logger.warn('accepting a loss of acknowledged events: rebuilding from what is left in the event store', {
    what,
    checkpoint,
    head,
    missing: options.dense ? checkpoint - head : 'at least 1',
    [ACCEPT_EVENT_LOSS_ENV]: options.acceptLossAt,
  });
  return 'accepted';
}
