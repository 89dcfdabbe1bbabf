/**
 * The external tools behind an import or export (GNU tar, xz, gzip, debugfs, mtools, setfattr,
 * mknod), spawned without a shell (a path can never become a command), tied to the job's
 * AbortSignal, and turned into DomainErrors that name the tool and the tail of its stderr.
 *
 * Every child of a job is registered in its `ToolSet`; aborting the job (or any failure) kills them
 * all with SIGKILL, so nothing keeps writing into a staging folder that is being removed.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { DomainError, ErrorCode } from '../../domain/shared/domain-error';

const SETPRIV = 'setpriv';
const PDEATHSIG_ARGS = ['--pdeathsig', 'SIGKILL', '--'];

/** How much of a failed tool's stderr its error keeps. */
const STDERR_TAIL = 2000;

export function aborted(): DomainError {
  return new DomainError(ErrorCode.IMAGE_JOB_ABORTED, 'the image job was cancelled: nothing of it was kept');
}

export function invalidSource(message: string): DomainError {
  return new DomainError(ErrorCode.IMAGE_INVALID, `source: ${message}`, 'source');
}

export function toolFailed(tool: string, detail: string): DomainError {
  return new DomainError(ErrorCode.IMAGE_IMPORT_FAILED, `tool ${tool} failed: ${detail.trim() || '(no output)'}`);
}

export interface ToolRun {
  child: ChildProcess;
  /** Resolves when the tool exited 0; rejects with IMAGE_IMPORT_FAILED (or IMAGE_JOB_ABORTED). */
  done: Promise<void>;
  /** The tail of what it wrote to stderr so far. */
  stderr(): string;
}

export interface SpawnOptions {
  stdio?: StdioOptions;
  env?: NodeJS.ProcessEnv;
  /** Working directory: lets a tool name files relatively (no `?`, `@@` or quotes of a parent path). */
  cwd?: string;
  /** Exit codes that still count as success (GNU tar's 1: "some files differ", never on extract). */
  okCodes?: number[];
}

/** The children of one job. */
export class ToolSet {
  private readonly children = new Set<ChildProcess>();
  private killed = false;

  constructor(private readonly signal?: AbortSignal) {}

  /** Throws IMAGE_JOB_ABORTED when the job was cancelled. */
  checkAborted(): void {
    if (this.signal?.aborted || this.killed) throw aborted();
  }

  spawn(command: string, args: string[], options: SpawnOptions = {}): ToolRun {
    this.checkAborted();
    // setpriv (util-linux) sets PR_SET_PDEATHSIG before it execs the tool: if bramble is killed
    // mid-import, the kernel kills the tool too, and nothing keeps writing into the staging folder
    // that the next start's sweepStaging removes.
    const child = spawn(SETPRIV, [...PDEATHSIG_ARGS, command, ...args], {
      stdio: options.stdio ?? ['ignore', 'ignore', 'pipe'],
      env: options.env ?? { ...process.env, LC_ALL: 'C' },
      cwd: options.cwd,
      shell: false,
    });
    this.children.add(child);
    let tail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-STDERR_TAIL);
    });
    const okCodes = options.okCodes ?? [0];
    const done = new Promise<void>((resolve, reject) => {
      child.once('error', (error) => {
        this.children.delete(child);
        reject(
          toolFailed(
            command,
            (error as NodeJS.ErrnoException).code === 'ENOENT' ? `${SETPRIV} is not installed (util-linux)` : error.message,
          ),
        );
      });
      child.once('close', (code, signal) => {
        this.children.delete(child);
        if (this.signal?.aborted || this.killed) reject(aborted());
        else if (code !== null && okCodes.includes(code)) resolve();
        else if (code === 127 && /failed to execute/.test(tail)) reject(toolFailed(command, `${command} is not installed`));
        else reject(toolFailed(command, `${signal ? `killed by ${signal}` : `exit code ${code}`}: ${tail}`));
      });
    });
    // Observed by the caller; this keeps an early rejection from being reported as unhandled.
    done.catch(() => undefined);
    return { child, done, stderr: () => tail };
  }

  /** Runs a tool to its end, collecting stdout (bounded). */
  async run(command: string, args: string[], options: SpawnOptions & { maxStdout?: number } = {}): Promise<string> {
    const run = this.spawn(command, args, { ...options, stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'] });
    const max = options.maxStdout ?? 256 * 1024 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    run.child.stdout?.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        this.killOne(run.child);
        return;
      }
      chunks.push(chunk);
    });
    await run.done;
    if (size > max) throw toolFailed(command, `wrote more than ${max} bytes of output`);
    return Buffer.concat(chunks).toString('utf8');
  }

  private killOne(child: ChildProcess): void {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  /** Kills every running child and waits (bounded) until they are gone. */
  async killAll(): Promise<void> {
    this.killed = true;
    const waits: Promise<unknown>[] = [];
    for (const child of this.children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      waits.push(new Promise((resolve) => child.once('close', resolve)));
      child.kill('SIGKILL');
    }
    await Promise.race([Promise.all(waits), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  }
}
