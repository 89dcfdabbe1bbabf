import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApproveClientCommand } from '../../../src/core/commands/client.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { CreateUserCommand } from '../../../src/core/commands/user.commands';
import { startCoreApp, TEST_TOKEN, type CoreApp } from '../../support/core-app';

describe('operational HTTP endpoints', () => {
  let core: CoreApp;
  let url: string;
  before(async () => {
    core = await startCoreApp();
    url = await core.app.listen();
    await core.exec(new ApproveClientCommand({ mac: 'dc:a6:32:0a:0b:0c', name: 'desk-3' }, commandMeta('admin:ops')));
    await core.exec(new CreateUserCommand({ username: 'grace', password: 'Hopper-Pass-1' }, commandMeta('admin:ops')));
  });
  after(() => core.close());

  it('/health answers without a token, with the event store, projections and plugins', async () => {
    const res = await fetch(`${url}/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      status: string;
      eventStore: { status: string; headPosition: number };
      projections: { caughtUp: boolean; lag: number };
      plugins: object;
    };
    assert.equal(body.status, 'ok');
    assert.equal(body.eventStore.status, 'up');
    assert.ok(body.eventStore.headPosition > 0);
    assert.equal(body.projections.caughtUp, true);
    assert.equal(body.projections.lag, 0);
    assert.deepEqual(body.plugins, {});
  });

  it('/metrics is Prometheus text with appends, append latency and projection lag', async () => {
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.match(text, /^bramble_events_appended_total\{stream_category="client"\} [1-9]/m);
    assert.match(text, /^bramble_events_appended_total\{stream_category="user"\} [1-9]/m);
    assert.match(text, /^bramble_append_duration_seconds_count [1-9]/m);
    assert.match(text, /^bramble_projection_lag_events 0$/m);
    assert.match(text, /^bramble_projection_position [1-9]/m);
  });

  it('/metrics: the process and Node.js metrics are bramble_process_* and bramble_nodejs_*, no doubled word', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const names = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    assert.ok(names.has('bramble_process_cpu_user_seconds_total'), [...names].join(' '));
    assert.ok(names.has('bramble_process_resident_memory_bytes'));
    assert.ok(names.has('bramble_nodejs_eventloop_lag_seconds'));
    assert.deepEqual(
      [...names].filter((n) => /process_process|nodejs_nodejs/.test(n) || !n.startsWith('bramble_')),
      [],
    );
  });

  it('/audit/export.ndjson needs the token and exports redacted events, filtered', async () => {
    const anonymous = await fetch(`${url}/audit/export.ndjson`);
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { code: string }).code, 'UNAUTHENTICATED');

    const res = await fetch(`${url}/audit/export.ndjson?types=UserCreated,ClientApproved`, {
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.equal(text.includes('Hopper-Pass-1'), false);
    assert.equal(/\$2[aby]\$/.test(text), false, 'password hashes are redacted from the export');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; position: number; data: Record<string, unknown>; metadata: { actor: string } });
    assert.deepEqual(
      lines.map((l) => l.type),
      ['ClientApproved', 'UserCreated'],
    );
    assert.equal(lines[1].data.passwordHash, '[redacted]');
    assert.equal(lines[0].metadata.actor, 'admin:ops');
    assert.ok(lines[0].position < lines[1].position);

    const bad = await fetch(`${url}/audit/export.ndjson?since=yesterday`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, 'VALIDATION');
  });
});
