/**
 * What `debugfs rdump` loses, put back from debugfs's own listing of the ext4 file system.
 *
 * Checked on e2fsprogs 1.47.0: rdump writes regular files, directories and symlinks with their
 * contents, owners and times, but it drops setuid/setgid/sticky bits (it chmods before it chowns),
 * leaves symlinks owned by root, writes each name of a hard-linked inode as a separate copy, skips
 * device nodes, FIFOs and sockets, and copies no extended attributes (so file capabilities such as
 * ping's cap_net_raw are lost). The fix-up runs ONE debugfs process fed a command file:
 *
 *   ls -p "<dir>"                               for every directory rdump wrote: inode, mode, uid, gid
 *                                               and name of every entry;
 *   ea_get -x "<file>" security.capability      for every regular file with an execute bit;
 *
 * and a second one (`stat <ino>`) only when the image has character or block devices (a Raspberry
 * Pi OS image has none: /dev is a devtmpfs), for their major/minor numbers. Then it links the extra
 * names of shared inodes, makes the special files (mknod), sets owners (lchown) and modes (after the
 * owner: chown clears setuid), and restores capabilities with one `setfattr --restore` (after chown,
 * which clears them too). What the target file system refuses becomes a warning, not a failure.
 *
 * Names with a newline cannot be named in a debugfs command line: such entries are left as rdump
 * wrote them, with a warning.
 */
import { chmodSync, lchownSync, linkSync, lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProgressReporter } from './progress';
import type { ToolSet } from './tool-process';

/** One entry of `ls -p`: `/ino/mode/uid/gid/name/size/`. */
export interface ExtEntry {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  name: string;
}

const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;

/** A path quoted for a debugfs command line (ss library: `"` inside quotes is written `""`). */
export function debugfsQuote(path: string): string {
  return `"${path.replace(/"/g, '""')}"`;
}

/** Parses one `ls -p` line; null for anything else. */
export function parseLsLine(line: string): ExtEntry | null {
  const m = /^\/(\d+)\/([0-7]+)\/(\d+)\/(\d+)\/(.*)\/(\d*)\/$/.exec(line);
  if (!m) return null;
  return { ino: Number(m[1]), mode: Number.parseInt(m[2], 8), uid: Number(m[3]), gid: Number(m[4]), name: m[5] };
}

/** The echo line debugfs -f prints before each command's output. */
const ECHO = 'debugfs: ';

/**
 * Splits `debugfs -f` stdout into each command's output lines, in command order. A command line
 * echoed is `debugfs: <command>`; output lines never start with it (ls -p lines start with `/`).
 */
export function splitDebugfsOutput(stdout: string): string[][] {
  const sections: string[][] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith(ECHO)) sections.push([]);
    else if (sections.length > 0 && line !== '') sections[sections.length - 1].push(line);
  }
  return sections;
}

/** The bytes of `ea_get -x` output (`security.capability (20) = 01 00 ...`), or null. */
export function parseEaHex(lines: string[], name: string): Buffer | null {
  for (const line of lines) {
    const at = line.indexOf(`${name} (`);
    if (at !== 0) continue;
    const m = /\((\d+)\) = ((?:[0-9a-f]{2} ?)*)$/.exec(line);
    if (!m) continue;
    const bytes = Buffer.from(m[2].replace(/ /g, ''), 'hex');
    if (bytes.length === Number(m[1])) return bytes;
  }
  return null;
}

/** Major and minor of a device from `stat` output (`Device major/minor number: 01:03 (hex 01:03)`). */
export function parseDeviceNumbers(lines: string[]): { major: number; minor: number } | null {
  for (const line of lines) {
    const m = /Device major\/minor number: \d+:\d+ \(hex ([0-9a-f]+):([0-9a-f]+)\)/.exec(line);
    if (m) return { major: Number.parseInt(m[1], 16), minor: Number.parseInt(m[2], 16) };
  }
  return null;
}

/** A path escaped as getfattr writes it in a dump (`\ooo` for backslash, controls, non-ASCII). */
export function getfattrEscape(path: string): string {
  let out = '';
  for (const byte of Buffer.from(path, 'utf8')) {
    if (byte <= 0x20 || byte >= 0x7f || byte === 0x5c || byte === 0x3d) out += `\\${byte.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}

/** Bounds: a root file system of Raspberry Pi OS Full has ~250,000 entries. */
const MAX_ENTRIES = 5_000_000;

/**
 * The tree walks use synchronous calls in slices of SLICE entries, yielding to the event loop
 * between slices: on 41,000 files the promise-per-lstat version took 9 s of a 54 s import (the
 * bench's phase times), the synchronous one a fraction of it. A slice of 1,000 entries (lstat,
 * lchown, chmod) held the loop for about 40 ms; 250 keep each slice near 10 ms.
 */
export const SLICE = 250;

export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Walked {
  dirs: string[];
  executables: string[];
  skipped: string[];
}

/** Directories and executable regular files rdump wrote (paths inside the image, `/`-rooted). */
async function walk(root: string, tools: ToolSet): Promise<Walked> {
  const out: Walked = { dirs: ['/'], executables: [], skipped: [] };
  const queue = ['/'];
  let seen = 0;
  while (queue.length > 0) {
    tools.checkAborted();
    const dir = queue.pop() as string;
    const entries = readdirSync(join(root, dir), { withFileTypes: true });
    for (const entry of entries) {
      if (++seen > MAX_ENTRIES) throw new Error(`more than ${MAX_ENTRIES} files in the image`);
      if (seen % SLICE === 0) await yieldToLoop();
      const path = dir === '/' ? `/${entry.name}` : `${dir}/${entry.name}`;
      if (/[\n\r]/.test(entry.name)) {
        out.skipped.push(path);
        continue;
      }
      if (entry.isDirectory()) {
        out.dirs.push(path);
        queue.push(path);
      } else if (entry.isFile()) {
        if (lstatSync(join(root, path)).mode & 0o111) out.executables.push(path);
      }
    }
  }
  return out;
}

async function runDebugfs(device: string, commands: string[], workDir: string, name: string, tools: ToolSet): Promise<string[][]> {
  const file = join(workDir, `${name}.debugfs`);
  await writeFile(file, commands.join('\n') + '\n');
  const stdout = await tools.run('debugfs', ['-f', file, device], { cwd: workDir });
  const sections = splitDebugfsOutput(stdout);
  if (sections.length !== commands.length) {
    throw new Error(`debugfs answered ${sections.length} of ${commands.length} commands`);
  }
  return sections;
}

export interface FixUpResult {
  warnings: string[];
  /** Entries debugfs listed (the root excluded). */
  entries: number;
}

/**
 * Fixes the tree `root` that `debugfs rdump / root` wrote from `device` (a file, optionally with
 * `?offset=N`, relative to `workDir`). `workDir` is a scratch folder (the staging folder).
 */
export async function fixUpRdump(
  device: string,
  root: string,
  workDir: string,
  tools: ToolSet,
  progress: ProgressReporter,
): Promise<FixUpResult> {
  progress.update({ phase: 'fixing-up' });
  const warnings: string[] = [];
  const walked = await walk(root, tools);
  for (const path of walked.skipped) warnings.push(`${path}: a name with a newline; owner, mode, links and attributes not checked`);
  const commands = [
    ...walked.dirs.map((d) => `ls -p ${debugfsQuote(d)}`),
    ...walked.executables.map((f) => `ea_get -x ${debugfsQuote(f)} security.capability`),
  ];
  const sections = await runDebugfs(device, commands, workDir, 'listing', tools);

  // Every entry, by path; the first path of each inode.
  // Parsed in slices too: 41,000 lines at once held the event loop for about 70 ms (measured).
  const entries: { path: string; e: ExtEntry }[] = [];
  let parsed = 0;
  for (let i = 0; i < walked.dirs.length; i++) {
    const dir = walked.dirs[i];
    for (const line of sections[i]) {
      if (++parsed % SLICE === 0) await yieldToLoop();
      const e = parseLsLine(line);
      if (!e || e.name === '.' || e.name === '..') continue;
      entries.push({ path: dir === '/' ? `/${e.name}` : `${dir}/${e.name}`, e });
    }
  }
  const rootEntry = sections[0].map(parseLsLine).find((e) => e?.name === '.');
  const caps = new Map<string, Buffer>();
  for (let i = 0; i < walked.executables.length; i++) {
    if ((i + 1) % SLICE === 0) await yieldToLoop();
    const value = parseEaHex(sections[walked.dirs.length + i], 'security.capability');
    if (value) caps.set(walked.executables[i], value);
  }

  // Hard links: every further name of a regular file's inode becomes a link to the first.
  const firstOfInode = new Map<number, string>();
  const devices: { path: string; e: ExtEntry }[] = [];
  let done = 0;
  for (const { path, e } of entries) {
    if (++done % SLICE === 0) {
      tools.checkAborted();
      await yieldToLoop();
    }
    const type = e.mode & S_IFMT;
    if (type === S_IFREG) {
      const first = firstOfInode.get(e.ino);
      if (first === undefined) firstOfInode.set(e.ino, path);
      else {
        try {
          unlinkSync(join(root, path));
        } catch {
          // not written by rdump: made here
        }
        linkSync(join(root, first), join(root, path));
      }
    } else if (type === S_IFCHR || type === S_IFBLK) devices.push({ path, e });
    else if (type === S_IFIFO) await makeNode(root, path, 'p', e.mode, null, tools, warnings);
    else if (type === S_IFSOCK) warnings.push(`${path}: a socket; not kept (it only exists while its program runs)`);
  }

  if (devices.length > 0) {
    const stats = await runDebugfs(
      device,
      devices.map(({ e }) => `stat <${e.ino}>`),
      workDir,
      'devices',
      tools,
    );
    for (let i = 0; i < devices.length; i++) {
      const numbers = parseDeviceNumbers(stats[i]);
      const { path, e } = devices[i];
      if (!numbers) warnings.push(`${path}: device numbers unreadable; not kept`);
      else await makeNode(root, path, (e.mode & S_IFMT) === S_IFCHR ? 'c' : 'b', e.mode, numbers, tools, warnings);
    }
  }

  // Owners, then modes (chown clears setuid/setgid), for every entry that differs.
  const all = rootEntry ? [{ path: '/', e: rootEntry }, ...entries] : entries;
  done = 0;
  for (const { path, e } of all) {
    if (++done % SLICE === 0) {
      tools.checkAborted();
      progress.update({ files: done });
      await yieldToLoop();
    }
    const host = join(root, path);
    let st;
    try {
      st = lstatSync(host);
    } catch {
      continue; // not made (a socket, a device the file system refused): already warned
    }
    if (st.uid !== e.uid || st.gid !== e.gid) lchownSync(host, e.uid, e.gid);
    if ((e.mode & S_IFMT) !== S_IFLNK && (st.mode & 0o7777) !== (e.mode & 0o7777)) chmodSync(host, e.mode & 0o7777);
  }

  if (caps.size > 0) {
    const dump = [...caps].map(
      ([path, value]) => `# file: ${getfattrEscape(join(root, path))}\nsecurity.capability=0x${value.toString('hex')}\n`,
    );
    const file = join(workDir, 'capabilities.dump');
    await writeFile(file, dump.join('\n'));
    try {
      await tools.run('setfattr', [`--restore=${file}`]);
    } catch (error) {
      tools.checkAborted();
      warnings.push(`file capabilities (${caps.size} files) not kept: ${(error as Error).message}`);
    }
  }
  return { warnings, entries: entries.length };
}

async function makeNode(
  root: string,
  path: string,
  type: 'c' | 'b' | 'p',
  mode: number,
  numbers: { major: number; minor: number } | null,
  tools: ToolSet,
  warnings: string[],
): Promise<void> {
  const args = ['-m', (mode & 0o7777).toString(8), join(root, path), type];
  if (numbers) args.push(String(numbers.major), String(numbers.minor));
  try {
    await tools.run('mknod', args);
  } catch (error) {
    tools.checkAborted();
    warnings.push(`${path}: special file not made: ${(error as Error).message}`);
  }
}
