/** API tokens through the CommandRunner: expected-revision appends on stream auth-tokens. */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apiTokenDecider } from '../../../src/core/auth/api-token.decider';
import { AUTH_TOKENS_STREAM } from '../../../src/core/auth/auth.events';
import { CommandRunner } from '../../../src/core/commands/command-runner';
import { commandMeta } from '../../../src/core/commands/meta';
import { DomainError } from '../../../src/core/domain/shared/domain-error';
import type { EventStore, ExpectedRevision, NewEvent } from '../../../src/core/event-store/event-store.port';
import { SqliteEventStore } from '../../../src/core/event-store/sqlite/sqlite.event-store';
import { silentLogger } from '../../../src/core/logging/logger';
import { tempDir } from '../../support/temp';

describe('API tokens on the event store', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteEventStore;
  before(async () => {
    tmp = tempDir();
    store = await SqliteEventStore.open({ file: path.join(tmp.dir, 't.db') });
  });
  after(async () => {
    await store.close();
    tmp.cleanup();
  });

  it('two writers issuing one label at once (two bramble processes on one store): one wins, the other gets TOKEN_EXISTS', async () => {
    const first = new CommandRunner(store, silentLogger);
    // The second writer's first append is preceded by the first writer's whole command, so its
    // decision was made on a stale revision: the append conflicts, it reloads and decides again.
    let rivalDone = false;
    const racing: EventStore = Object.create(store) as EventStore;
    racing.append = async (s: string, events: NewEvent[], expected: ExpectedRevision) => {
      if (!rivalDone) {
        rivalDone = true;
        await first.run(
          AUTH_TOKENS_STREAM,
          apiTokenDecider,
          { type: 'IssueApiToken', label: 'ci', sha256: 'a'.repeat(64) },
          commandMeta('admin:a'),
        );
      }
      return store.append(s, events, expected);
    };
    const second = new CommandRunner(racing, silentLogger);
    await assert.rejects(
      second.run(
        AUTH_TOKENS_STREAM,
        apiTokenDecider,
        { type: 'IssueApiToken', label: 'ci', sha256: 'b'.repeat(64) },
        commandMeta('admin:b'),
      ),
      (error: unknown) => error instanceof DomainError && error.code === 'TOKEN_EXISTS' && error.field === 'label',
    );
    const stream = await store.readStream(AUTH_TOKENS_STREAM);
    assert.deepEqual(
      stream.map((e) => [e.type, (e.data as { name: string }).name, e.metadata.actor]),
      [['ApiTokenIssued', 'ci', 'admin:a']],
    );
  });

  it('a revocation racing another revocation of the same label: one ApiTokenRevoked, the other TOKEN_NOT_FOUND', async () => {
    const a = new CommandRunner(store, silentLogger);
    const b = new CommandRunner(store, silentLogger);
    await a.load(AUTH_TOKENS_STREAM, apiTokenDecider);
    await b.load(AUTH_TOKENS_STREAM, apiTokenDecider);
    const results = await Promise.allSettled([
      a.run(AUTH_TOKENS_STREAM, apiTokenDecider, { type: 'RevokeApiToken', label: 'ci' }, commandMeta('admin:a')),
      b.run(AUTH_TOKENS_STREAM, apiTokenDecider, { type: 'RevokeApiToken', label: 'ci' }, commandMeta('admin:b')),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((failed.reason as DomainError).code, 'TOKEN_NOT_FOUND');
    const types = (await store.readStream(AUTH_TOKENS_STREAM)).map((e) => e.type);
    assert.deepEqual(types, ['ApiTokenIssued', 'ApiTokenRevoked']);
  });
});
