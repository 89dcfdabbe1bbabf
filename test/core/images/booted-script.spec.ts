/**
 * The "I'm up" script image conversion installs (booted-unit.edit.ts), run with bash against a
 * local listener on loopback, with a fake kernel command line: the server address from nfsroot=
 * (or ip=), the port baked in, and each way of posting (curl, wget, bash's /dev/tcp) chosen by
 * what is on PATH. About 5 s (one retry waits 3 s).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bootedScript } from '../../../src/core/adapters/images/booted-unit.edit';
import { tempDir } from '../../support/temp';

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  body: string;
}

function which(tool: string): string {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    const p = path.join(dir, tool);
    try {
      accessSync(p);
      return p;
    } catch {
      // next
    }
  }
  throw new Error(`${tool} not found`);
}

function runScript(script: string, cmdline: string, pathEnv: string): Promise<{ code: number; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile('/bin/bash', [script, cmdline], { env: { PATH: pathEnv }, timeout: 20_000 }, (error, _stdout, stderr) => {
      const code = error ? ((error as NodeJS.ErrnoException & { code?: number }).code as unknown as number) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stderr, ms: Date.now() - started });
    });
  });
}

describe('bramble-booted (the script)', () => {
  const tmp = tempDir('bramble-booted-');
  let server: http.Server;
  let port: number;
  const seen: Seen[] = [];
  /** Status codes to answer with, in order (then 204). */
  const answers: number[] = [];
  let script: string;
  const bins: Record<string, string> = {};

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body });
        res.writeHead(answers.shift() ?? 204, { connection: 'close' });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    script = path.join(tmp.dir, 'bramble-booted');
    writeFileSync(script, bootedScript(port), { mode: 0o755 });
    // PATHs offering only some tools: curl (the system's), wget only, neither (bash's /dev/tcp).
    for (const [name, tools] of Object.entries({ wget: ['wget', 'sleep', 'hostname'], tcp: ['sleep', 'hostname'] })) {
      const dir = path.join(tmp.dir, `bin-${name}`);
      mkdirSync(dir);
      for (const tool of tools) symlinkSync(which(tool), path.join(dir, tool));
      bins[name] = dir;
    }
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    tmp.cleanup();
  });

  const cmdline = (text: string): string => {
    const file = path.join(tmp.dir, `cmdline-${seen.length}-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, `${text}\n`);
    return file;
  };
  const PI_CMDLINE = 'console=serial0,115200 ip=dhcp root=/dev/nfs nfsroot=127.0.0.1:/srv/bramble/images/lite/v2,vers=3,tcp ro rootwait';

  for (const [way, pathOf] of [
    ['curl', () => '/usr/bin:/bin'],
    ['wget', () => bins.wget],
    ['bash /dev/tcp', () => bins.tcp],
  ] as const) {
    it(`posts to http://<nfsroot server>:<port>/booted with ${way}`, async () => {
      const before = seen.length;
      const result = await runScript(script, cmdline(PI_CMDLINE), pathOf());
      assert.equal(result.code, 0, result.stderr);
      assert.equal(seen.length, before + 1);
      const request = seen[seen.length - 1];
      assert.equal(request.method, 'POST');
      assert.equal(request.url, '/booted');
      assert.equal(request.contentType, 'application/json');
      const body = JSON.parse(request.body) as { hostname: string };
      assert.match(body.hostname, /^[A-Za-z0-9.-]*$/);
    });
  }

  it('takes the server from ip= when nfsroot= has none', async () => {
    const before = seen.length;
    const result = await runScript(
      script,
      cmdline('ip=10.9.9.9:127.0.0.1:10.9.9.1:255.255.255.0:pi:eth0:off root=/dev/nfs nfsroot=/srv/x'),
      bins.tcp,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(seen.length, before + 1);
  });

  it('retries while bramble does not take the report (503, then 204)', async () => {
    const before = seen.length;
    answers.push(503);
    const result = await runScript(script, cmdline(PI_CMDLINE), bins.tcp);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(seen.length, before + 2);
    assert.ok(result.ms >= 2500, `waited between tries (${result.ms} ms)`);
  });

  it('gives up at once, exit 1, when the command line names no server', async () => {
    const result = await runScript(script, cmdline('console=tty1 root=/dev/mmcblk0p2 rootwait'), bins.tcp);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no server address/);
  });
});
