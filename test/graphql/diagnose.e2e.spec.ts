/**
 * diagnose(mac) over GraphQL, with the real DHCP and TFTP plugins started (no interface: they serve
 * nothing, but their diagnosis providers run) and a test plugin that detects Pis the way the DHCP
 * plugin does (detectClient with model and serial) and can misbehave on request.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { definePlugin, type PluginContext } from '../../src/core/plugin-api';
import { createDhcpPlugin } from '../../src/plugins/dhcp/dhcp.plugin';
import { createTftpPlugin } from '../../src/plugins/tftp/tftp.plugin';
import { startHarness, type Harness } from '../support/app-harness';
import { tempDir } from '../support/temp';

const PI4 = 'dc:a6:32:00:00:41';
const PENDING = 'dc:a6:32:00:00:42';

let ctx: PluginContext | null = null;
let providerMode: 'ok' | 'throw' | 'hang' | 'junk' = 'ok';

const detector = () =>
  definePlugin({
    name: 'detector',
    start(c) {
      ctx = c as unknown as PluginContext;
      c.diagnostics.provide(({ mac }) => {
        if (providerMode === 'throw') throw new Error('boom');
        if (providerMode === 'hang') return new Promise(() => undefined);
        if (providerMode === 'junk') return [{ code: 'lower case!', severity: 'fatal', message: 42 }] as never;
        return mac === PI4 ? [{ code: 'DETECTOR_SAYS_HI', severity: 'info', message: 'seen on the test plugin' }] : [];
      });
    },
  });

const DIAGNOSE = 'query ($mac: String!) { diagnose(mac: $mac) { mac ok findings { code severity message source } } }';

describe('GraphQL diagnose(mac)', () => {
  let h: Harness;
  let images: { dir: string; cleanup(): void };
  let boot: string;

  before(async () => {
    images = tempDir('bramble-diag-');
    h = await startHarness({ plugins: [createDhcpPlugin({ probeIntervalMs: 0 }), createTftpPlugin(), detector] });
    const tree = path.join(images.dir, 'pi3-only');
    for (const sub of ['boot', 'etc', 'usr']) mkdirSync(path.join(tree, sub), { recursive: true });
    boot = path.join(tree, 'boot');
    for (const f of ['bootcode.bin', 'start.elf', 'fixup.dat', 'kernel8.img', 'fixup4.dat', 'bcm2711-rpi-4-b.dtb'])
      writeFileSync(path.join(boot, f), 'x');
    await h.ok('mutation ($p: String!) { registerImage(name: "pi3-only", path: $p) { id } }', { p: tree });
    await ctx!.commands.detectClient({ mac: PI4, serial: '4444aaaa', model: 'RPi4', via: 'dhcp' });
    await ctx!.commands.detectClient({ mac: PENDING, serial: null, model: 'RPi4', via: 'dhcp' });
    await h.ok(`mutation { approveClient(mac: "${PI4}", imageId: "pi3-only") { mac } }`);
  });
  after(async () => {
    await h?.close();
    images?.cleanup();
  });

  it('a Pi 4 on an image without start4.elf: not ok, the TFTP plugin names the file; the plugins\u2019 findings carry their source', async () => {
    const { diagnose } = await h.ok(DIAGNOSE, { mac: PI4.toUpperCase() });
    assert.equal(diagnose.mac, PI4);
    assert.equal(diagnose.ok, false);
    const lacking = diagnose.findings.find((f: { code: string }) => f.code === 'IMAGE_LACKS_MODEL_FILES');
    assert.ok(lacking, JSON.stringify(diagnose.findings));
    assert.equal(lacking.source, 'tftp');
    assert.equal(lacking.severity, 'error');
    assert.match(lacking.message, /start4\.elf/);
    assert.doesNotMatch(lacking.message, /fixup4\.dat/, 'only what is missing is named');
    assert.equal(diagnose.findings[0].severity, 'error', 'errors first');
    assert.ok(diagnose.findings.some((f: { code: string; source: string }) => f.code === 'DETECTOR_SAYS_HI' && f.source === 'detector'));
  });

  it('once the image has start4.elf the same client is ok', async () => {
    writeFileSync(path.join(boot, 'start4.elf'), 'x');
    const { diagnose } = await h.ok(DIAGNOSE, { mac: PI4 });
    assert.equal(diagnose.ok, true, JSON.stringify(diagnose.findings));
    assert.ok(!diagnose.findings.some((f: { code: string }) => f.code === 'IMAGE_LACKS_MODEL_FILES'));
  });

  it('a pending Pi: CLIENT_NOT_APPROVED and NO_IMAGE_ASSIGNED from the core; an unknown MAC: CLIENT_UNKNOWN only', async () => {
    const pending = (await h.ok(DIAGNOSE, { mac: PENDING })).diagnose;
    assert.deepEqual(
      pending.findings.filter((f: { source: string }) => f.source === 'core').map((f: { code: string }) => f.code),
      ['CLIENT_NOT_APPROVED', 'NO_IMAGE_ASSIGNED'],
    );
    const unknown = (await h.ok(DIAGNOSE, { mac: '02:00:00:00:00:99' })).diagnose;
    assert.deepEqual(
      unknown.findings.map((f: { code: string; source: string }) => [f.code, f.source]),
      [['CLIENT_UNKNOWN', 'core']],
    );
    assert.equal(unknown.ok, false);
  });

  it('a bad MAC is a VALIDATION error on field mac', async () => {
    const res = await h.gql(DIAGNOSE, { mac: 'not-a-mac' });
    assert.equal(res.errors?.[0]?.extensions?.code, 'VALIDATION');
    assert.equal(res.errors?.[0]?.extensions?.field, 'mac');
  });

  it('a plugin that throws, answers junk or never answers costs one warning, not the diagnosis', async () => {
    for (const mode of ['throw', 'junk'] as const) {
      providerMode = mode;
      const { diagnose } = await h.ok(DIAGNOSE, { mac: PI4 });
      const mine = diagnose.findings.filter((f: { source: string }) => f.source === 'detector');
      if (mode === 'throw') {
        assert.deepEqual(
          mine.map((f: { code: string; severity: string }) => [f.code, f.severity]),
          [['DIAGNOSIS_PROVIDER_FAILED', 'warning']],
        );
        assert.match(mine[0].message, /boom/);
      } else {
        assert.deepEqual(mine, [{ code: 'UNNAMED_FINDING', severity: 'info', message: '42', source: 'detector' }]);
      }
      assert.ok(diagnose.findings.some((f: { source: string }) => f.source === 'core' || f.source === 'tftp') || diagnose.ok);
    }
    providerMode = 'hang';
    const started = Date.now();
    const { diagnose } = await h.ok(DIAGNOSE, { mac: PI4 });
    assert.ok(Date.now() - started < 15_000);
    assert.match(diagnose.findings.find((f: { source: string }) => f.source === 'detector').message, /no answer in 5000 ms/);
    providerMode = 'ok';
  });
});
