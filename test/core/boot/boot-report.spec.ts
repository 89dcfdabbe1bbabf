/**
 * The "I'm up" report listener on loopback, with curl and raw sockets: accepted only from an
 * approved client's learned address (127.0.0.1 here; 127.0.0.2 is a stranger), and hostile input
 * (wrong method or path, oversized body, bad JSON, a slow drip, a flood of idle connections) gets
 * a bounded answer without stalling the event loop. About 15 s (the header timeout is waited out).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { BootReportServer, REPORT_HEADERS_TIMEOUT_MS } from '../../../src/core/boot/boot-report.server';
import { BootSessions } from '../../../src/core/boot/boot-sessions';
import { ApproveClientCommand, LearnClientAddressCommand, ReportBootFactCommand } from '../../../src/core/commands/client.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { UpdateSettingsCommand } from '../../../src/core/commands/system.commands';
import type { BootStageChangedData } from '../../../src/core/plugin-api';
import { EVENT_STORE, type EventStore } from '../../../src/core/event-store/event-store.port';
import { startCoreApp, type CoreApp } from '../../support/core-app';

const run = promisify(execFile);
const PI = 'dc:a6:32:00:40:01';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** curl: status code and body; `from` is the source address. */
async function curl(url: string, args: string[] = [], from = '127.0.0.1'): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-s', '--max-time', '5', '--interface', from, '-w', '\n%{http_code}', ...args, url]);
  const lines = stdout.split('\n');
  return { status: Number(lines.pop()), body: lines.join('\n') };
}

describe('boot report listener', () => {
  let core: CoreApp;
  let port: number;
  let url: string;

  before(async () => {
    core = await startCoreApp({ env: { BRAMBLE_SERVER_IP: '127.0.0.1' } });
    port = await freePort();
    await core.exec(new UpdateSettingsCommand({ changes: { bootReportPort: port } }, commandMeta('admin:test')));
    await core.app.nest.get(BootReportServer).reconcile();
    url = `http://127.0.0.1:${port}/booted`;
    await core.exec(new ApproveClientCommand({ mac: PI, name: null, imageId: null }, commandMeta('admin:test')));
    await core.exec(new LearnClientAddressCommand({ mac: PI, ip: '127.0.0.1' }, commandMeta('plugin:dhcp')));
  });
  after(async () => core?.close());

  it('listens on the server address and the bootReportPort setting', () => {
    assert.deepEqual(core.app.nest.get(BootReportServer).address(), { host: '127.0.0.1', port });
  });

  it('refuses a report from an address no approved client uses: 403 BOOT_REPORT_REFUSED, nothing recorded', async () => {
    const res = await curl(url, ['-X', 'POST'], '127.0.0.2');
    assert.equal(res.status, 403);
    assert.deepEqual(JSON.parse(res.body), { code: 'BOOT_REPORT_REFUSED' });
    assert.equal(core.app.nest.get(BootSessions).state(PI), null);
  });

  it("records `booted` from the client's learned address: 204, and its session reaches BOOTED", async () => {
    await core.bus.execute(
      new ReportBootFactCommand({ mac: PI, stage: 'nfs.root-mounted', ip: '127.0.0.1', plugin: 'nfs' }, commandMeta('plugin:nfs')),
    );
    await core.bus.execute(
      new ReportBootFactCommand(
        { mac: PI, stage: 'tftp.file-served', ip: '127.0.0.1', plugin: 'tftp', detail: { file: 'start4.elf' } },
        commandMeta('plugin:tftp'),
      ),
    );
    const res = await curl(url, ['-X', 'POST', '-H', 'content-type: application/json', '-d', '{"hostname":"pi-40-01"}']);
    assert.equal(res.status, 204, res.body);
    assert.equal(core.app.nest.get(BootSessions).state(PI)!.session!.stage, 'BOOTED');
    const events = await core.app.nest.get<EventStore>(EVENT_STORE).readStream(`boot-${PI}`);
    const booted = events[events.length - 1];
    assert.equal((booted.data as BootStageChangedData).stage, 'BOOTED');
    assert.equal(booted.metadata.actor, 'system');
    assert.equal(core.bootFacts(PI).at(-1)!.detail.hostname, 'pi-40-01');
    // A body is optional; a repeated report changes nothing more.
    assert.equal((await curl(url, ['-X', 'POST'])).status, 204);
  });

  it('answers 405 to another method, 404 to another path, 413 to a body over 1 KiB, 400 to a body that is not a JSON object', async () => {
    const get = await curl(url);
    assert.equal(get.status, 405);
    assert.equal((await curl(`http://127.0.0.1:${port}/other`, ['-X', 'POST'])).status, 404);
    assert.equal((await curl(url, ['-X', 'POST', '-d', 'x'.repeat(2048)])).status, 413);
    // Declared small, sent big (chunked): cut at 1 KiB all the same.
    assert.equal((await curl(url, ['-X', 'POST', '-H', 'transfer-encoding: chunked', '-d', 'y'.repeat(4096)])).status, 413);
    assert.equal((await curl(url, ['-X', 'POST', '-d', 'not json'])).status, 400);
    assert.equal((await curl(url, ['-X', 'POST', '-d', '[1,2]'])).status, 400);
  });

  it('a slow drip and a flood of idle connections are cut (bounded connections, header timeout) without stalling the loop', async () => {
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const opened: net.Socket[] = [];
    const closedAt: number[] = [];
    const start = Date.now();
    for (let i = 0; i < 300; i++) {
      const s = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
      s.on('error', () => undefined);
      s.on('close', () => closedAt.push(Date.now() - start));
      opened.push(s);
    }
    // One drips a request line, a byte a second.
    const drip = opened[0];
    let dripAnswer = '';
    drip.on('data', (d: Buffer) => (dripAnswer += d.toString('latin1')));
    drip.write('POST /booted HTTP/1.1\r\n');
    const dripTimer = setInterval(() => drip.writable && drip.write('X'), 1000);
    try {
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(closedAt.length >= 300 - 256, `over the connection bound: closed at once (${closedAt.length})`);
      // Everything is closed by the header timeout (checked every second).
      const deadline = Date.now() + REPORT_HEADERS_TIMEOUT_MS + 4000;
      while (closedAt.length < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal(
        closedAt.length,
        300,
        `every idle or dripping connection was closed; open: ${opened
          .map((s, i) => (s.destroyed ? -1 : i))
          .filter((i) => i >= 0)
          .join(',')}`,
      );
      assert.match(dripAnswer, /^HTTP\/1\.1 40[08] /, 'the drip got an error answer before the close');
    } finally {
      clearInterval(dripTimer);
      for (const s of opened) s.destroy();
      delay.disable();
    }
    const maxMs = delay.max / 1e6;
    assert.ok(maxMs < 200, `event loop delay max ${maxMs.toFixed(1)} ms`);
    // And it still serves.
    assert.equal((await curl(url, ['-X', 'POST'])).status, 204);
  });

  it('follows the setting: port 0 turns it off, another port rebinds it', async () => {
    const server = core.app.nest.get(BootReportServer);
    await core.exec(new UpdateSettingsCommand({ changes: { bootReportPort: 0 } }, commandMeta('admin:test')));
    await server.reconcile();
    assert.equal(server.address(), null);
    await assert.rejects(run('curl', ['-s', '--max-time', '2', '-X', 'POST', url]));
    const other = await freePort();
    await core.exec(new UpdateSettingsCommand({ changes: { bootReportPort: other } }, commandMeta('admin:test')));
    await server.reconcile();
    assert.equal((await curl(`http://127.0.0.1:${other}/booted`, ['-X', 'POST'])).status, 204);
  });
});
