/**
 * Runs a shell command inside an image (the ImageCommandRunner port): `apt install nslcd`, a
 * config tweak, anything an admin would do in a chroot, without ever writing the image's tree.
 *
 * How, and why this way:
 * - The command sees the image through overlayfs: `base` is the read-only lower dir; everything it
 *   writes lands in an upper dir in a staging folder beside `target`. A failed or aborted command
 *   therefore costs nothing: the staging folder is removed and `base` never changed.
 * - All mounts (the overlay, /proc, /sys read-only, a minimal /dev, tmpfs /tmp and /run, the host's
 *   /etc/resolv.conf read-only so apt can resolve names) are made by a small shell script run with
 *   `unshare -m --propagation private`: they exist only in that process's private mount namespace
 *   and vanish with it, even if bramble is killed. Nothing is ever mounted in the host's namespace.
 * - The script then execs `env -i ... chroot merged /bin/sh -c command` (same pid: the process group
 *   bramble kills on abort or timeout is the command's). The environment is cleared: PATH, HOME,
 *   LANG=C.UTF-8, DEBIAN_FRONTEND=noninteractive (apt must never wait for an answer).
 * - Setup errors go to a separate pipe (fd 3), with a `ready` line before the exec, so a failed
 *   mount is reported as bramble's failure (IMAGE_IMPORT_FAILED), not as the command's exit code.
 * - Only on exit 0 is the result kept: `target` = a clone of `base` (version store: hard links) with
 *   the upper dir applied by rename (overlay-apply.ts), built in the staging folder and renamed into
 *   place.
 * - Output (stdout and stderr) is streamed to `onOutput` as it comes and hashed (SHA-256) in the
 *   order read; it is not stored here.
 *
 * Not contained: the network (apt needs it), and processes the command starts in their own session
 * (a daemon that calls setsid) survive the process-group kill; bramble kills the group again when
 * the command exits so ordinary background jobs die with it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, lstatSync, mkdirSync } from 'node:fs';
import { lstat, rename, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { CommandRunOptions, CommandRunResult, ImageCommandRunner, ImageVersionStore } from '../../commands/image-ports';
import { DomainError, ErrorCode } from '../../domain/shared/domain-error';
import { checkArchitecture } from './architecture';
import { applyUpper, opaqueDirectories } from './overlay-apply';
import { aborted, firstLines, killGroup } from './run-tool';
import { stagingPathFor } from './staging';

const DEFAULT_TIMEOUT_MS = 60 * 60 * 1000;
/** Setup messages kept (fd 3). */
const MAX_SETUP_OUTPUT = 64 * 1024;

/** The environment inside the image: nothing of bramble's own (secrets, tokens) leaks in. */
export const IMAGE_ENV = [
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'HOME=/root',
  'LANG=C.UTF-8',
  'DEBIAN_FRONTEND=noninteractive',
];

/**
 * The script run in the private mount namespace: $1 base, $2 staging folder, $3 the command.
 * Mount points must already exist in the image (and not be symlinks: a symlink would be followed
 * on the host side of the chroot). /proc, /sys, /dev are required; /tmp and /run are used when there.
 */
export const NAMESPACE_SCRIPT = `
set -eu
exec 4>&2 2>&3
base=$1; stage=$2; m=$2/merged
mount -t overlay overlay -o "lowerdir=$base,upperdir=$stage/upper,workdir=$stage/work,redirect_dir=off,metacopy=off,index=off" "$m"
for d in proc sys dev; do
  if [ -L "$m/$d" ] || [ ! -d "$m/$d" ]; then echo "the image has no /$d folder" >&2; exit 1; fi
done
mount -t proc -o nosuid,nodev,noexec proc "$m/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$m/sys"
mount -t tmpfs -o mode=0755,nosuid,size=16m tmpfs "$m/dev"
for n in null zero full random urandom tty; do
  : > "$m/dev/$n"; mount --bind "/dev/$n" "$m/dev/$n"
done
mkdir "$m/dev/pts" "$m/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$m/dev/shm"
ln -s /proc/self/fd "$m/dev/fd"; ln -s /proc/self/fd/0 "$m/dev/stdin"
ln -s /proc/self/fd/1 "$m/dev/stdout"; ln -s /proc/self/fd/2 "$m/dev/stderr"
if [ -d "$m/tmp" ] && [ ! -L "$m/tmp" ]; then mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$m/tmp"; fi
if [ -d "$m/run" ] && [ ! -L "$m/run" ]; then mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$m/run"; fi
if [ -f "$m/etc/resolv.conf" ] && [ ! -L "$m/etc/resolv.conf" ] && [ -e /etc/resolv.conf ]; then
  mount --bind -o ro /etc/resolv.conf "$m/etc/resolv.conf"
fi
echo ready >&3
exec 2>&4 4>&- 3>&- /usr/bin/env -i ${IMAGE_ENV.join(' ')} /usr/sbin/chroot "$m" /bin/sh -c "$3"
`;

export interface OverlayCommandRunnerOptions {
  /** Where binfmt_misc is mounted (tests point it at a folder of their own). */
  binfmtDir?: string;
  /** The host's Debian architecture (default: from process.arch). */
  hostArchitecture?: string;
}

export class OverlayImageCommandRunner implements ImageCommandRunner {
  constructor(
    private readonly store: ImageVersionStore,
    private readonly options: OverlayCommandRunnerOptions = {},
  ) {}

  async run(base: string, target: string, command: string, options: CommandRunOptions): Promise<CommandRunResult> {
    for (const [name, path] of [
      ['base', base],
      ['target', target],
    ]) {
      // overlayfs splits its options at `,` and lowerdir at `:`; `\` escapes. No image path needs them.
      if (!isAbsolute(path) || /[,:\\\0\n]/.test(path))
        throw new DomainError(ErrorCode.IMAGE_INVALID, `${name}: ${path} must be an absolute path without , : \\ or newlines`);
    }
    if (!lstatSync(base, { throwIfNoEntry: false })?.isDirectory())
      throw new DomainError(ErrorCode.IMAGE_INVALID, `base: ${base} is not a directory`);
    if (lstatSync(target, { throwIfNoEntry: false })) throw new DomainError(ErrorCode.IMAGE_EXISTS, `target: ${target} already exists`);
    checkArchitecture(options.architecture, { ...this.options, imageRoot: base });
    if (options.signal?.aborted) throw aborted();

    const stage = stagingPathFor(target);
    try {
      const rootInfo = lstatSync(base);
      for (const dir of ['upper', 'work', 'merged']) mkdirSync(join(stage, dir), { recursive: true, mode: 0o755 });
      // The upper dir is the merged root: it must look like the image's root.
      chownSync(join(stage, 'upper'), rootInfo.uid, rootInfo.gid);
      chmodSync(join(stage, 'upper'), rootInfo.mode & 0o7777);

      const result = await this.execute(base, stage, command, options);
      if (result.exitCode !== 0) return result;

      options.onProgress?.({ phase: 'writing', bytesDone: 0, bytesTotal: null, files: 0 });
      const opaque = await opaqueDirectories(join(stage, 'upper'), options.signal);
      const tree = join(stage, 'tree');
      const { files } = await this.store.clone(base, tree, { signal: options.signal });
      if (options.signal?.aborted) throw aborted();
      await applyUpper(join(stage, 'upper'), tree, opaque);
      if (options.signal?.aborted) throw aborted();
      if (await lstat(target).catch(() => null)) throw new DomainError(ErrorCode.IMAGE_EXISTS, `target: ${target} already exists`);
      await rename(tree, target);
      options.onProgress?.({ phase: 'writing', bytesDone: 0, bytesTotal: null, files });
      return result;
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
  }

  /** Runs the command in its namespace; resolves when it and its process group are gone. */
  private execute(
    base: string,
    stage: string,
    command: string,
    options: { signal?: AbortSignal; timeoutMs?: number; onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void },
  ): Promise<CommandRunResult> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const child = spawn(
        '/usr/bin/unshare',
        ['-m', '--propagation', 'private', '/bin/sh', '-c', NAMESPACE_SCRIPT, 'bramble-image-command', base, stage, command],
        {
          stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
          detached: true,
          env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
        },
      );
      const hash = createHash('sha256');
      let bytes = 0;
      let setup = '';
      let ready = false;
      let timedOut = false;
      const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
      const onData = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        const text = decoders[stream].write(chunk);
        if (text) options.onOutput?.(text, stream);
      };
      child.stdout?.on('data', onData('stdout'));
      child.stderr?.on('data', onData('stderr'));
      const control = child.stdio[3] as NodeJS.ReadableStream;
      control.setEncoding('utf8');
      control.on('data', (s: string) => {
        if (setup.length < MAX_SETUP_OUTPUT) setup += s;
        if (/^ready$/m.test(setup)) ready = true;
      });
      const kill = (): void => killGroup(child.pid);
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      options.signal?.addEventListener('abort', kill, { once: true });
      // The command is done: its leftovers in the group go too, so the namespace (and its mounts) dies.
      child.on('exit', kill);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new DomainError(ErrorCode.IMAGE_IMPORT_FAILED, `unshare: cannot start: ${error.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', kill);
        for (const stream of ['stdout', 'stderr'] as const) {
          const rest = decoders[stream].end();
          if (rest) options.onOutput?.(rest, stream);
        }
        if (options.signal?.aborted) return reject(aborted());
        if (!ready && !timedOut) {
          const why = firstLines(setup) || `exit ${code ?? signal}`;
          return reject(new DomainError(ErrorCode.IMAGE_IMPORT_FAILED, `setting up the image's chroot failed: ${why}`));
        }
        resolve({
          exitCode: code,
          signal: signal ?? null,
          logSha256: hash.digest('hex'),
          logBytes: bytes,
          durationMs: Date.now() - started,
        });
      });
    });
  }
}
