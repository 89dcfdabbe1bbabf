/**
 * Runs a host tool (cp, getfattr...) for the image adapters: argv only (never a shell line), output
 * collected up to a bound, killed with its process group on abort. The tools do the file work
 * because they already handle every corner (sparse files, xattrs, ACLs, device nodes) that a
 * hand-written walk would have to relearn.
 */
import { spawn } from 'node:child_process';
import { DomainError, ErrorCode } from '../../domain/shared/domain-error';

export interface ToolResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Output kept per stream: a tool's error message fits, a runaway tool cannot fill memory. */
const MAX_OUTPUT = 1024 * 1024;

/**
 * Runs `file args`; resolves with how it ended (a non-zero exit is not an error here: the caller
 * decides). Rejects with IMAGE_JOB_ABORTED when `signal` fires (the tool's process group is killed
 * first), IMAGE_IMPORT_FAILED when the tool cannot be started.
 */
export function runTool(file: string, args: string[], signal?: AbortSignal): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted());
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += s;
    });
    const onAbort = (): void => killGroup(child.pid);
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new DomainError(ErrorCode.IMAGE_IMPORT_FAILED, `${file}: cannot start: ${error.message}`));
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(aborted());
      resolve({ code, signal: sig, stdout, stderr });
    });
  });
}

/** SIGKILL to a detached child's whole process group (it may have children of its own). */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export function aborted(): DomainError {
  return new DomainError(ErrorCode.IMAGE_JOB_ABORTED, 'the image job was aborted: nothing of it was kept');
}

/** The first lines of a tool's stderr, for an error message (bounded). */
export function firstLines(text: string, lines = 5): string {
  return text.trim().split('\n').slice(0, lines).join('; ').slice(0, 800);
}
