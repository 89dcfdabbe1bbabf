/**
 * The README's plugin examples, as a new user would take them: the contract package is packed and
 * installed on its own into an empty folder (no bramble there), the TypeScript example is compiled
 * with the command the README gives, and both examples are loaded into a running bramble through
 * BRAMBLE_PLUGINS. So the README can never again show a plugin that fails as written.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApproveClientCommand } from '../../src/core/commands/client.commands';
import { commandMeta } from '../../src/core/commands/meta';
import { UpdatePluginSettingsCommand } from '../../src/core/commands/system.commands';
import { EVENT_STORE, type EventStore } from '../../src/core/event-store/event-store.port';
import { HealthService } from '../../src/core/observability/health.service';
import { startCoreApp, type CoreApp } from '../support/core-app';
import { eventually, tempDir } from '../support/temp';

const ROOT = path.join(__dirname, '..', '..', '..');

/** The first fenced block of `lang` after the heading `## Writing a plugin`. */
export function readmeBlock(lang: 'ts' | 'js'): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Writing a plugin'));
  const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)\\n```').exec(section);
  assert.ok(match, `README has a \`\`\`${lang} block under "Writing a plugin"`);
  return match[1];
}

/** Packs @bramble/plugin and installs the tarball into an empty folder, as a plugin author would. */
export function installContract(dir: string): { ms: number } {
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'door-sign', version: '1.0.0', private: true }));
  const tgz = execFileSync('npm', ['pack', '-w', 'packages/plugin', '--pack-destination', dir, '--silent'], { cwd: ROOT, encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()!;
  const started = Date.now();
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--silent', `./${tgz}`], { cwd: dir, stdio: 'pipe' });
  return { ms: Date.now() - started };
}

describe("the README's plugin examples, built and loaded as written", () => {
  const author = tempDir('bramble-readme-plugin-');
  let installMs = 0;

  before(() => {
    installMs = installContract(author.dir).ms;
  });
  after(() => author.cleanup());

  async function load(file: string): Promise<CoreApp> {
    return startCoreApp({ env: { BRAMBLE_PLUGINS: file } });
  }

  async function signs(core: CoreApp): Promise<Record<string, unknown>[]> {
    return (await core.app.nest.get<EventStore>(EVENT_STORE).readStream('plugin-door-sign-sign')).map(
      (e) => e.data as Record<string, unknown>,
    );
  }

  it('installs @bramble/plugin alone into an empty folder: the contract and TypeBox, no server, no native module', () => {
    const installed = JSON.parse(readFileSync(path.join(author.dir, 'node_modules', '@bramble', 'plugin', 'package.json'), 'utf8')) as {
      dependencies: object;
    };
    assert.deepEqual(Object.keys(installed.dependencies), ['@sinclair/typebox']);
    const packages = execFileSync('npm', ['ls', '--all', '--parseable'], { cwd: author.dir, encoding: 'utf8' }).trim().split('\n');
    assert.equal(packages.length, 3, `the folder, the contract and TypeBox: ${packages.join(', ')}`);
    process.stdout.write(`# @bramble/plugin installed in ${installMs} ms\n`);
  });

  it('the TypeScript example compiles with the command the README gives, and runs in bramble', async () => {
    writeFileSync(path.join(author.dir, 'door-sign.ts'), readmeBlock('ts'));
    const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
    execFileSync(tsc, ['--module', 'commonjs', '--target', 'es2022', '--strict', '--skipLibCheck', 'door-sign.ts'], {
      cwd: author.dir,
      stdio: 'pipe',
    });
    const core = await load(path.join(author.dir, 'door-sign.js'));
    try {
      const health = await core.app.nest.get(HealthService).report();
      assert.equal(health.plugins['door-sign']?.status, 'up', JSON.stringify(health.plugins['door-sign']));
      assert.deepEqual((await signs(core))[0], { room: 'Room 1', ready: 0, approvals: 0 });
      await core.exec(new ApproveClientCommand({ mac: 'dc:a6:32:00:00:01' }, commandMeta('admin:t')));
      await eventually(async () => (await signs(core)).some((s) => s.ready === 1), 5000, 'the sign follows the clients view');
      await assert.rejects(
        core.exec(new UpdatePluginSettingsCommand({ plugin: 'door-sign', values: { room: 'x'.repeat(41) } }, commandMeta('admin:t'))),
        (e: { code: string; field: string }) => e.code === 'VALIDATION' && e.field === 'door-sign.room',
      );
    } finally {
      await core.close();
    }
  });

  it('a typo in consumes does not compile (the catalogue types it)', () => {
    writeFileSync(
      path.join(author.dir, 'typo.ts'),
      readmeBlock('ts').replace("consumes: ['ClientApproved']", "consumes: ['ClientAproved']"),
    );
    const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
    assert.throws(
      () =>
        execFileSync(tsc, ['--noEmit', '--module', 'commonjs', '--target', 'es2022', '--strict', '--skipLibCheck', 'typo.ts'], {
          cwd: author.dir,
          stdio: 'pipe',
        }),
      (e: { stdout: Buffer }) => /ClientAproved/.test(e.stdout.toString()),
    );
  });

  it('the JavaScript example runs in bramble as it is', async () => {
    writeFileSync(path.join(author.dir, 'door-sign-plain.js'), readmeBlock('js'));
    const core = await load(path.join(author.dir, 'door-sign-plain.js'));
    try {
      assert.equal((await core.app.nest.get(HealthService).report()).plugins['door-sign']?.status, 'up');
      assert.deepEqual(await signs(core), [{ room: 'Room 1', approvals: 0 }]);
    } finally {
      await core.close();
    }
  });
});
