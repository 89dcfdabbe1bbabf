/**
 * bramble as a package: `npm pack` of the project, installed with plain `npm install` into an
 * empty folder (as from a registry: every dependency resolved and built there, native ones
 * included), next to a plugin that imports the contract as `bramble/plugin`; the installed
 * `bramble` command is started with BRAMBLE_PLUGINS naming the plugin, and serves with it running.
 * The install time is printed: it is the heavy way (the light one is @bramble/plugin alone).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { waitForExit } from '../support/netlab';
import { tempDir } from '../support/temp';

const ROOT = path.join(__dirname, '..', '..', '..');

const PLUGIN = `
const { definePlugin, Type, isIpv4 } = require('bramble/plugin');
exports.createPlugin = () => definePlugin({
  name: 'lab-bell',
  settings: Type.Object({ volume: Type.Integer({ minimum: 0, maximum: 10, default: 3, description: 'How loud.' }) }, { additionalProperties: false }),
  start(ctx) { ctx.logger.info('bell ready', { volume: ctx.settings().volume, helper: isIpv4('10.0.0.1') }); },
  health: () => ({ status: 'up', checks: { rung: 0 } }),
});
`;

describe('bramble packed, installed into an empty folder, started with a plugin written against bramble/plugin', () => {
  const work = tempDir('bramble-pack-');
  after(() => work.cleanup());

  it('installs with npm install (no --legacy-peer-deps) and serves with the plugin up', { timeout: 15 * 60_000 }, async () => {
    const tgz = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work.dir], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop()!;
    const app = path.join(work.dir, 'school');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'school', version: '1.0.0', private: true }));
    const started = Date.now();
    const install = execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(work.dir, tgz)], {
      cwd: app,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(`# npm install of the packed bramble: ${seconds} s\n`);
    assert.doesNotMatch(install, /ERESOLVE/);
    const installed = JSON.parse(readFileSync(path.join(app, 'node_modules', 'bramble', 'package.json'), 'utf8')) as { version: string };
    assert.equal(installed.version, (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);

    writeFileSync(path.join(app, 'lab-bell.js'), PLUGIN);
    const data = path.join(work.dir, 'data');
    const server = spawn(path.join(app, 'node_modules', '.bin', 'bramble'), [], {
      cwd: app,
      env: { ...process.env, BRAMBLE_DATA_DIR: data, BRAMBLE_HTTP_PORT: '0', BRAMBLE_PLUGINS: './lab-bell.js', BRAMBLE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    server.stderr.on('data', (c: Buffer) => (log += c.toString()));
    try {
      const deadline = Date.now() + 60_000;
      let url: string | undefined;
      while (!url) {
        if (server.exitCode !== null || Date.now() > deadline) throw new Error(`bramble did not start:\n${log}`);
        url = /"msg":"bramble is serving","url":"([^"]+)"/.exec(log)?.[1];
        await new Promise((r) => setTimeout(r, 100));
      }
      const health = (await (await fetch(`${url}/health`)).json()) as { plugins: Record<string, { status: string; source: string }> };
      assert.equal(health.plugins['lab-bell']?.status, 'up', JSON.stringify(health.plugins));
      assert.equal(health.plugins['lab-bell']?.source, './lab-bell.js');
      assert.match(log, /"msg":"bell ready","volume":3,"helper":true/);
      const token = readFileSync(path.join(data, 'admin-token'), 'utf8').trim();
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ plugin(name: "lab-bell") { status settings settingsSchema } }' }),
      });
      const body = (await res.json()) as {
        data: { plugin: { status: string; settings: unknown; settingsSchema: { properties: { volume: { maximum: number } } } } };
      };
      assert.deepEqual(body.data.plugin.settings, { volume: 3 });
      assert.equal(body.data.plugin.settingsSchema.properties.volume.maximum, 10);
    } finally {
      server.kill('SIGTERM');
      await waitForExit(server, 10_000);
    }
  });
});
