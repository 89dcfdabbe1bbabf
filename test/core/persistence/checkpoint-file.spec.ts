/**
 * persistence/checkpoint-file.ts: a checkpoint file is trusted only when it proves itself
 * (checksum, fields, schema), is written owner-only whatever the umask, and a valid one AHEAD of
 * the store refuses the start unless that exact loss is accepted.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  checkNotAheadOfStore,
  EventsMissingError,
  readCheckpointFile,
  writeCheckpointFile,
  type CheckpointFile,
} from '../../../src/core/persistence/checkpoint-file';
import { recordingLogger, tempDir } from '../../support/temp';

interface Counter {
  count: number;
}
const validateState = (s: unknown): string | null =>
  typeof s === 'object' && s !== null && Number.isSafeInteger((s as Counter).count) ? null : 'count: not an integer';
const expect = { kind: 'counter', version: 2, validateState };
const body = (over: Partial<CheckpointFile<Counter>> = {}): CheckpointFile<Counter> => ({
  kind: 'counter',
  version: 2,
  storeFingerprint: 'first-event-id',
  checkpoint: 41,
  takenAt: new Date().toISOString(),
  state: { count: 7 },
  ...over,
});

describe('checkpoint files', () => {
  let tmp: ReturnType<typeof tempDir>;
  let umask: number;
  before(() => {
    tmp = tempDir();
    umask = process.umask(0o022); // permissive, as on most hosts
  });
  after(() => {
    process.umask(umask);
    tmp.cleanup();
  });

  it('round-trips; the file is 0600 and a missing parent 0700 whatever the umask; no temp file is left', async () => {
    const file = path.join(tmp.dir, 'plugins', 'counter', 'checkpoint.json');
    await writeCheckpointFile(file, body());
    const read = await readCheckpointFile<Counter>(file, expect);
    assert.equal(read.status, 'ok');
    assert.deepEqual(read.status === 'ok' && read.body, body({ takenAt: read.status === 'ok' ? read.body.takenAt : '' }));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.equal(statSync(path.join(tmp.dir, 'plugins')).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(path.dirname(file)), ['checkpoint.json']);
    assert.match(readFileSync(file, 'utf8'), /^\{"checksum":"sha256:[0-9a-f]{64}","kind":"counter"/);
    // Overwriting a file that someone made world-readable: the new one is 0600 again.
    writeFileSync(file, 'x', { mode: 0o644 });
    await writeCheckpointFile(file, body({ checkpoint: 42 }));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal((await readCheckpointFile<Counter>(file, expect)).status, 'ok');
  });

  it("creates missing directories 0700 even under a umask that would take the owner's bits", async () => {
    const file = path.join(tmp.dir, 'strict', 'a', 'b', 'checkpoint.json');
    const previous = process.umask(0o777);
    try {
      await writeCheckpointFile(file, body());
    } finally {
      process.umask(previous);
    }
    for (const d of ['strict', 'strict/a', 'strict/a/b']) assert.equal(statSync(path.join(tmp.dir, d)).mode & 0o777, 0o700, d);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal((await readCheckpointFile<Counter>(file, expect)).status, 'ok');
  });

  it('reports a missing file as missing', async () => {
    assert.deepEqual(await readCheckpointFile(path.join(tmp.dir, 'none.json'), expect), { status: 'missing' });
  });

  it('finds everything else invalid, with the reason: never trusted', async () => {
    const file = path.join(tmp.dir, 'c.json');
    await writeCheckpointFile(file, body());
    const good = readFileSync(file, 'utf8');
    const parsed = JSON.parse(good) as Record<string, unknown>;
    const cases: [string, string, RegExp][] = [
      ['empty', '', /not JSON/],
      ['truncated', good.slice(0, good.length - 5), /not JSON/],
      ['an array', '[]', /not a JSON object/],
      [
        'no checksum (an older format)',
        JSON.stringify({ version: 2, storeFingerprint: null, checkpoint: 1, takenAt: 'x', state: {} }),
        /no checksum/,
      ],
      ['edited by hand', good.replace('"count":7', '"count":8'), /checksum mismatch/],
    ];
    for (const [what, text, reason] of cases) {
      writeFileSync(file, text);
      const read = await readCheckpointFile(file, expect);
      assert.equal(read.status, 'invalid', what);
      assert.match(read.status === 'invalid' ? read.reason : '', reason, what);
    }
    // Whitespace is not content: the checksum covers the canonical JSON (re-indented by jq: fine).
    writeFileSync(file, JSON.stringify(parsed, null, 2));
    assert.equal((await readCheckpointFile(file, expect)).status, 'ok');
    // Well-formed and checksummed, but not what was expected.
    const invalidBodies: [Partial<CheckpointFile<Counter>> | Record<string, unknown>, RegExp][] = [
      [{ kind: 'other' }, /kind "other", expected "counter"/],
      [{ version: 1 }, /version 1, expected 2/],
      [{ checkpoint: 'abc' }, /checkpoint: not a position/],
      [{ checkpoint: -1 }, /checkpoint: not a position/],
      [{ checkpoint: 1.5 }, /checkpoint: not a position/],
      [{ checkpoint: 2 ** 60 }, /checkpoint: not a position/],
      [{ storeFingerprint: 7 }, /storeFingerprint/],
      [{ takenAt: 'yesterday' }, /takenAt/],
      [{ state: {} }, /state: count: not an integer/],
      [{ state: null }, /state: count/],
    ];
    for (const [over, reason] of invalidBodies) {
      writeFileSync(file, checksummed({ ...body(), ...over }));
      const read = await readCheckpointFile(file, expect);
      assert.equal(read.status, 'invalid', JSON.stringify(over));
      assert.match(read.status === 'invalid' ? read.reason : '', reason, JSON.stringify(over));
    }
    writeFileSync(file, checksummed({ ...body(), extra: 1 }));
    assert.match(((await readCheckpointFile(file, expect)) as { reason: string }).reason, /unknown field "extra"/);
    // A directory where the file should be: invalid, not a crash.
    mkdirSync(path.join(tmp.dir, 'dir.json'));
    assert.match(
      ((await readCheckpointFile(path.join(tmp.dir, 'dir.json'), expect)) as { reason: string }).reason,
      /cannot read it: EISDIR/,
    );
  });

  it('refuses a checkpoint ahead of the store, saying how many events are missing and how to accept the loss', () => {
    assert.equal(checkNotAheadOfStore('x', null, 0, { acceptLossAt: null, dense: true }), 'ok');
    assert.equal(checkNotAheadOfStore('x', 1200, 1200, { acceptLossAt: null, dense: true }), 'ok');
    assert.throws(
      () => checkNotAheadOfStore('read-model snapshot', 1260, 1200, { acceptLossAt: null, dense: true }),
      (e: unknown) =>
        e instanceof EventsMissingError &&
        e.code === 'EVENTS_MISSING' &&
        e.missing === 60 &&
        e.message ===
          'read-model snapshot is at position 1260 but the event store ends at 1200: 60 acknowledged events are missing (was the WAL lost?).' +
            ' To accept the loss and rebuild from what is left, start once with BRAMBLE_ACCEPT_EVENT_LOSS=1200',
    );
    // KurrentDB positions have gaps: only a lower bound.
    assert.throws(
      () => checkNotAheadOfStore('plugin dhcp', 98_765, 12_345, { acceptLossAt: null, dense: false }),
      /plugin dhcp is at position 98765 but the event store ends at 12345: at least 1 acknowledged event is missing.*BRAMBLE_ACCEPT_EVENT_LOSS=12345$/,
    );
    // A flag left from an earlier loss does not accept a new one.
    assert.throws(
      () => checkNotAheadOfStore('read-model snapshot', 1260, 1200, { acceptLossAt: 900, dense: true }),
      /BRAMBLE_ACCEPT_EVENT_LOSS=1200 \(BRAMBLE_ACCEPT_EVENT_LOSS=900 is set, but it names another head position/,
    );
    const { logger, lines } = recordingLogger();
    assert.equal(checkNotAheadOfStore('read-model snapshot', 1260, 1200, { acceptLossAt: 1200, dense: true, logger }), 'accepted');
    assert.equal(lines.length, 1);
    assert.equal(lines[0].level, 'warn');
    assert.equal(lines[0].missing, 60);
  });
});

/** A file with a correct checksum over any content (to test the checks behind the checksum). */
function checksummed(content: Record<string, unknown>): string {
  const text = JSON.stringify(content);
  return `{"checksum":"sha256:${createHash('sha256').update(text).digest('hex')}",${text.slice(1)}`;
}
