/**
 * `node dist/src/main.js` as a real child process, for tests of what a start does to a data
 * directory (refusals, the lock): spawn, wait for /health or for the exit, stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';

/** The repository root: the nearest folder above this file with bramble's package.json. */
export function repoRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'bramble') return dir;
  }
  return process.cwd();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the /health body once it answers 200; rejects if the process exits first. */
  healthy(timeoutMs?: number): Promise<Record<string, any>>;
  /** SIGTERM (or the given signal), then waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the built server on `dataDir` with a free port (the rest of the environment without BRAMBLE_*). */
export async function startServer(dataDir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const port = await freePort();
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BRAMBLE_'))) as Record<string, string>;
  const child = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'src', 'main.js')], {
    cwd: repoRoot(),
    env: {
      ...clean,
      BRAMBLE_DATA_DIR: dataDir,
      BRAMBLE_HTTP_PORT: String(port),
      BRAMBLE_ADMIN_TOKEN: 'test-admin-token-0123456789',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let exited = false;
  void exit.then(() => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    url,
    output: () => output,
    exit,
    async healthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exited) throw new Error(`the server exited before answering /health:\n${output}`);
        try {
          const res = await fetch(`${url}/health`);
          if (res.status === 200) return (await res.json()) as Record<string, any>;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`no /health within ${timeoutMs} ms:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!exited) child.kill(signal);
      return exit;
    },
  };
}
