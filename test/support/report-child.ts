/**
 * Runs a module in a child node process that prints one JSON report as its last stdout line, and
 * resolves with that report. The child dies with this process (setpriv --pdeathsig), is killed
 * after `timeoutMs`, and is not itself a test process (NODE_TEST_CONTEXT is not passed on). `nice`
 * lowers its CPU priority: load generators play another machine's part and must not take the
 * cores from what they measure.
 */
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';

export function runReportChild<R>(options: {
  file: string;
  env: Record<string, string>;
  timeoutMs: number;
  nice?: number;
  what: string;
  /** Run inside this network namespace (`ip netns exec`): a client on a lab host. */
  netns?: string;
}): Promise<R> {
  return new Promise((resolve, reject) => {
    const { NODE_TEST_CONTEXT: _testContext, ...env } = process.env;
    const argv = ['setpriv', '--pdeathsig', 'KILL', process.execPath, options.file];
    if (options.netns) argv.unshift('ip', 'netns', 'exec', options.netns);
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (options.nice && child.pid) {
      try {
        setPriority(child.pid, options.nice);
      } catch {
        // not allowed: the same priority
      }
    }
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as R);
      } catch (error) {
        reject(new Error(`${options.what} child failed (${(error as Error).message}): ${err.slice(-2000)} ${out.slice(-500)}`));
      }
    });
  });
}
