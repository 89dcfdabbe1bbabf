/**
 * How the NFS plugin runs programs (ganesha.nfsd, rpcbind, rpcinfo, exportfs). Every process goes
 * through one `Spawner`, so a test can run them all inside a lab's network and mount namespaces
 * (nsenter) while bramble runs outside; in service it is node's spawn.
 */
import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';

export type Spawner = (command: string, args: readonly string[]) => ChildProcess;

export const defaultSpawner: Spawner = (command, args) => nodeSpawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });

/** Keeps the last `max` characters of a stream (stderr of a long-running daemon). */
export function tailOf(child: ChildProcess, max = 4096): () => string {
  let text = '';
  const add = (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-max);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => text;
}

export interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a short command to its end, killed after `timeoutMs`. Never rejects (a spawn error is code null). */
export function run(spawn: Spawner, command: string, args: readonly string[], timeoutMs = 10_000): Promise<RunResult> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(command, args);
    } catch (error) {
      resolve({ code: null, output: (error as Error).message });
      return;
    }
    const output = tailOf(child);
    let done = false;
    const finish = (code: number | null, extra = '') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ code, output: (output() + extra).trim() });
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(null, `\n${command}: no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    child.once('error', (error) => finish(null, `\n${command}: ${error.message}`));
    child.once('close', (code) => finish(code));
  });
}
