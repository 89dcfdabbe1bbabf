/**
 * Durability of the sqlite store under a hard kill: a child process appends continuously with many
 * concurrent appenders and prints every acknowledged event; it is killed with SIGKILL at a random
 * moment, and the reopened file must hold every acknowledged event (same id, stream, revision),
 * no partial append, pass `PRAGMA integrity_check`, and accept new appends.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { SqliteEventStore } from '../../../src/core/event-store/sqlite/sqlite.event-store';

const WRITER = path.join(__dirname, '..', '..', 'support', 'crash-writer.js');
const EVENTS_PER_APPEND = 3; // as in crash-writer.ts

interface Acked {
  stream: string;
  revision: number;
  id: string;
}

/** Runs the writer until `killAfterMs` after its first acknowledgement, SIGKILLs it, returns the acked events. */
async function runAndKill(file: string, tag: string, killAfterMs: number): Promise<Acked[]> {
  const child = spawn(process.execPath, [WRITER, file, tag], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const deadline = Date.now() + 10_000;
  // Started and has acknowledged at least one append.
  while (!/^ready\n.*\n/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`crash-writer did not start: ${err}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await new Promise((resolve) => setTimeout(resolve, killAfterMs));
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', `writer ended on its own: ${err}`);
  // Only complete lines: the last one may have been cut by the kill.
  const lines = out.slice('ready\n'.length).split('\n');
  lines.pop();
  return lines.map((line) => {
    const [stream, revision, id] = line.split(' ');
    return { stream, revision: Number(revision), id };
  });
}

describe('sqlite event store survives SIGKILL', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bramble-crash-'));
  const file = path.join(dir, 'events.db');
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Three rounds on the same file, killed at different moments (plus jitter).
  for (const [round, delay] of [
    [1, 120],
    [2, 350],
    [3, 700],
  ] as const) {
    it(`round ${round}: every acknowledged append is there after a kill at ~${delay} ms`, async () => {
      const tag = `r${round}-${randomUUID().slice(0, 6)}`;
      const acked = await runAndKill(file, tag, delay + Math.floor(Math.random() * 150));
      assert.ok(acked.length > 0, 'the writer acknowledged some appends before the kill');

      const db = new Database(file);
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
        const rows = db
          .prepare('SELECT stream, revision, id FROM events WHERE stream GLOB ? ORDER BY stream, revision')
          .all(`crash-${tag}-*`) as Acked[];
        const stored = new Map(rows.map((r) => [`${r.stream} ${r.revision}`, r.id]));
        for (const a of acked) {
          assert.equal(stored.get(`${a.stream} ${a.revision}`), a.id, `acknowledged ${a.stream}@${a.revision} is stored with its id`);
        }
        assert.ok(rows.length >= acked.length);
        // No partial append: each stream holds whole appends, revisions 0..n-1.
        const byStream = new Map<string, number[]>();
        for (const r of rows) byStream.set(r.stream, [...(byStream.get(r.stream) ?? []), r.revision]);
        for (const [stream, revisions] of byStream) {
          assert.equal(revisions.length % EVENTS_PER_APPEND, 0, `${stream} holds whole appends`);
          assert.deepEqual(
            revisions,
            revisions.map((_, i) => i),
            `${stream} revisions are contiguous`,
          );
        }
      } finally {
        db.close();
      }

      const store = await SqliteEventStore.open({ file });
      try {
        const stream = acked[0].stream;
        const last = (await store.readStream(stream)).at(-1)!;
        const result = await store.append(
          stream,
          [
            {
              type: 'AfterCrash',
              data: {},
              metadata: {
                actor: 'system',
                correlationId: randomUUID(),
                causationId: null,
                timestamp: new Date().toISOString(),
                schemaVersion: 1,
              },
            },
          ],
          last.revision,
        );
        assert.equal(result.revision, last.revision + 1);
        assert.ok(result.position > last.position);
      } finally {
        await store.close();
      }
    });
  }
});
