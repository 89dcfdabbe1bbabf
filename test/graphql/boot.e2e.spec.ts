/**
 * Boot sessions over the API (a real HTTP and WebSocket server): facts sent through a plugin's
 * command path (`ctx.commands.reportBootFact`) show up live on `bootProgress`, in the client's
 * `bootStage`/`bootSessionId`/`loggedInUser`/`lastBootAt`, and in `bootSessions` history.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BootSessions } from '../../src/core/boot/boot-sessions';
import { definePlugin, type BootFactInput, type PluginContext, type PluginFactory } from '../../src/core/plugin-api';
import { startHarness, subscribe, type Harness } from '../support/app-harness';
import { eventually } from '../support/temp';

const PI = 'dc:a6:32:00:30:01';
const OTHER = 'dc:a6:32:00:30:02';

interface Progress {
  mac: string;
  sessionId: string;
  stage: string;
  at: string;
  ip: string | null;
  currentFile: string | null;
  lastRequest: string | null;
  cause: string | null;
  stages: { stage: string; at: string; ms: number }[];
}

const PROGRESS_FIELDS = 'mac sessionId stage at ip currentFile lastRequest cause stages { stage at ms }';

describe('boot sessions over GraphQL', () => {
  let h: Harness;
  let ctx: PluginContext | null = null;
  const probe: PluginFactory = () =>
    definePlugin({
      name: 'probe',
      consumes: [],
      project() {},
      start(c) {
        ctx = c as unknown as PluginContext;
      },
    });
  const report = (input: BootFactInput) => ctx!.commands.reportBootFact(input);

  before(async () => {
    h = await startHarness({ plugins: [probe] });
    assert.ok(ctx, 'the probe plugin started');
    for (const mac of [PI, OTHER]) await h.ok('mutation($mac: String!) { approveClient(mac: $mac) { mac } }', { mac });
  });
  after(async () => h?.close());

  const subscribers = (n: number) =>
    eventually(() => h.app.nest.get(BootSessions).subscribers === n, 5000, `${n} bootProgress subscribers`);

  it('bootProgress(mac) receives every stage in order, and every file fact, for that client only', async () => {
    await subscribers(0);
    const sub = subscribe<{ bootProgress: Progress }>(
      h.ws(),
      `subscription($mac: String) { bootProgress(mac: $mac) { ${PROGRESS_FIELDS} } }`,
      {
        mac: 'DC-A6-32-00-30-01',
      },
    );
    const all = subscribe<{ bootProgress: Progress }>(h.ws(), `subscription { bootProgress { mac stage } }`);
    await subscribers(2);
    await report({ mac: PI, stage: 'dhcp.discover', detail: { pxe: true } });
    await report({ mac: OTHER, stage: 'dhcp.discover', detail: { pxe: true } });
    await report({ mac: PI, stage: 'dhcp.acked', ip: '10.0.0.21', detail: { pxe: true } });
    await report({ mac: PI, stage: 'tftp.file-served', ip: '10.0.0.21', detail: { file: 'config.txt', bytes: 10, ms: 1, blksize: 512 } });
    await report({ mac: PI, stage: 'tftp.file-served', ip: '10.0.0.21', detail: { file: 'start4.elf', bytes: 10, ms: 1, blksize: 512 } });
    await report({ mac: PI, stage: 'tftp.file-served', ip: '10.0.0.21', detail: { file: 'kernel8.img', bytes: 10, ms: 1, blksize: 512 } });
    await report({ mac: PI, stage: 'nfs.root-mounted', ip: '10.0.0.21' });
    await report({ mac: PI, stage: 'booted', ip: '10.0.0.21' });
    await report({ mac: PI, stage: 'ldap.user-logged-in', ip: '10.0.0.21', detail: { username: 'alice' } });

    const got: Progress[] = [];
    for (let i = 0; i < 8; i++) got.push((await sub.next()).data!.bootProgress);
    assert.deepEqual(
      got.map((p) => [p.stage, p.currentFile]),
      [
        ['DHCP', null],
        ['DHCP', null],
        ['FIRMWARE', 'config.txt'],
        ['FIRMWARE', 'start4.elf'],
        ['KERNEL', 'kernel8.img'],
        ['ROOT_MOUNTED', 'kernel8.img'],
        ['BOOTED', 'kernel8.img'],
        ['BOOTED', 'kernel8.img'],
      ],
    );
    assert.ok(got.every((p) => p.mac === PI));
    assert.equal(new Set(got.map((p) => p.sessionId)).size, 1);
    assert.equal(got[1].ip, '10.0.0.21');
    assert.deepEqual(
      got[7].stages.map((s) => s.stage),
      ['DHCP', 'FIRMWARE', 'KERNEL', 'ROOT_MOUNTED', 'BOOTED', 'USER_LOGGED_IN'],
    );
    assert.ok(got[7].stages.every((s) => Number.isInteger(s.ms) && s.ms >= 0));
    assert.equal(got[7].lastRequest, 'ldap.user-logged-in');

    const everyone: string[] = [];
    for (let i = 0; i < 9; i++) everyone.push((await all.next()).data!.bootProgress.mac);
    assert.deepEqual(everyone.filter((m) => m === OTHER).length, 1, 'without mac: every client');
    sub.unsubscribe();
    all.unsubscribe();
  });

  it('clients show the boot stage, session, logged-in user and last boot; bootSessions gives the history newest first', async () => {
    const { client } = await h.ok<{ client: Record<string, unknown> }>(
      `{ client(mac: "${PI}") { bootStage bootSessionId loggedInUser lastBootAt ip } }`,
    );
    assert.equal(client.bootStage, 'BOOTED');
    assert.equal(client.loggedInUser, 'alice');
    assert.match(String(client.lastBootAt), /^\d{4}-\d\d-\d\dT/);
    const first = client.bootSessionId as string;
    assert.ok(first);
    const { clients } = await h.ok<{ clients: { mac: string; bootStage: string | null }[] }>('{ clients { mac bootStage } }');
    assert.deepEqual(clients.find((c) => c.mac === OTHER)?.bootStage, 'DHCP');

    // A reboot: a new session (the booted one is not failed).
    await report({ mac: PI, stage: 'dhcp.discover', detail: { pxe: true } });
    await report({ mac: PI, stage: 'tftp.file-missing', detail: { file: 'start4.elf' } });
    const { bootSessions } = await h.ok<{ bootSessions: Record<string, any>[] }>(
      `{ bootSessions(mac: "${PI}") { sessionId mac startedAt endedAt stage ip username cause lastRequest stages { stage at ms } } }`,
    );
    assert.equal(bootSessions.length, 2);
    assert.equal(bootSessions[0].stage, 'FIRMWARE');
    assert.equal(bootSessions[0].endedAt, null);
    assert.equal(bootSessions[1].sessionId, first);
    assert.equal(bootSessions[1].stage, 'BOOTED');
    assert.equal(bootSessions[1].username, 'alice');
    assert.ok(bootSessions[1].endedAt);
    assert.deepEqual(
      bootSessions[1].stages.map((s: { stage: string }) => s.stage),
      ['DHCP', 'FIRMWARE', 'KERNEL', 'ROOT_MOUNTED', 'BOOTED', 'USER_LOGGED_IN'],
    );
    const { client: after } = await h.ok<{ client: Record<string, unknown> }>(
      `{ client(mac: "${PI}") { bootStage loggedInUser lastBootAt } }`,
    );
    assert.equal(after.bootStage, 'FIRMWARE');
    assert.equal(after.loggedInUser, null, 'a new boot: nobody logged in yet');
    assert.equal(after.lastBootAt, client.lastBootAt, 'the last boot is still the one that reached BOOTED');

    const one = await h.ok<{ bootSessions: { sessionId: string }[] }>(`{ bootSessions(mac: "${PI}", last: 1) { sessionId } }`);
    assert.deepEqual(
      one.bootSessions.map((s) => s.sessionId),
      [bootSessions[0].sessionId],
    );
    const bad = await h.gql(`{ bootSessions(mac: "${PI}", last: 0) { sessionId } }`);
    assert.equal(bad.errors?.[0]?.extensions?.code, 'VALIDATION');
    const none = await h.ok<{ bootSessions: unknown[] }>('{ bootSessions(mac: "dc:a6:32:00:30:99") { sessionId } }');
    assert.deepEqual(none.bootSessions, []);
  });

  it('boot settings: defaults, a partial change of the timeouts, validation', async () => {
    const fields =
      'bootRetentionDays bootReportPort bootTimeouts { dhcpSeconds fileSeconds rootMountSeconds bootedSeconds failAfterStallSeconds }';
    const { settings } = await h.ok<{ settings: Record<string, any> }>(`{ settings { ${fields} } }`);
    assert.deepEqual(settings, {
      bootRetentionDays: 30,
      bootReportPort: 6970,
      bootTimeouts: { dhcpSeconds: 30, fileSeconds: 35, rootMountSeconds: 120, bootedSeconds: 300, failAfterStallSeconds: 600 },
    });
    const changed = await h.ok<{ updateSettings: Record<string, any> }>(
      `mutation { updateSettings(input: { bootRetentionDays: 7, bootTimeouts: { dhcpSeconds: 5 } }) { ${fields} } }`,
    );
    assert.equal(changed.updateSettings.bootRetentionDays, 7);
    assert.deepEqual(changed.updateSettings.bootTimeouts, {
      dhcpSeconds: 5,
      fileSeconds: 35,
      rootMountSeconds: 120,
      bootedSeconds: 300,
      failAfterStallSeconds: 600,
    });
    await eventually(() => h.app.nest.get(BootSessions).timeouts().dhcpMs === 5000, 3000, 'the sessions use the new timeout');
    assert.equal(h.app.nest.get(BootSessions).timeouts().fileMs, 35_000);
    for (const [input, field] of [
      ['bootRetentionDays: 0', 'bootRetentionDays'],
      ['bootReportPort: 70000', 'bootReportPort'],
      ['bootTimeouts: { fileSeconds: -1 }', 'bootTimeouts.fileSeconds'],
    ]) {
      const bad = await h.gql(`mutation { updateSettings(input: { ${input} }) { bootRetentionDays } }`);
      assert.equal(bad.errors?.[0]?.extensions?.code, 'VALIDATION', input);
      assert.equal(bad.errors?.[0]?.extensions?.field, field, input);
    }
  });

  it('needs a token, like every other operation', async () => {
    const res = await h.gql(`{ bootSessions(mac: "${PI}") { sessionId } }`, undefined, null);
    assert.ok(res.errors?.length);
    assert.equal(res.errors![0].extensions?.code, 'UNAUTHENTICATED');
  });
});
