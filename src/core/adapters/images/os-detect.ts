/**
 * What an imported root tree is: its os-release, its Debian architecture, and where its boot files
 * belong. The parsers are pure (text or bytes in, facts out); `detectOs` reads the few files they
 * need, resolving symlinks inside the image's own root (an absolute link in an image points into
 * the image, never into the server's file system).
 *
 * Architecture: dpkg's own word first (the `Architecture:` of the essential packages in
 * /var/lib/dpkg/status: a Raspberry Pi OS "arm64" image can carry armhf packages, but its essential
 * ones are the native ones), else the ELF header of the shell (`/bin/sh`'s target) or `/usr/bin/env`.
 */
import { lstat, open, readFile, readlink } from 'node:fs/promises';
import { posix, relative } from 'node:path';
import { resolveInImage } from './fs-image-reader';
import type { ImageOsRelease } from '../../plugin-api/events';

/** Parses os-release(5): `KEY=value` lines, values optionally quoted with shell escapes. */
export function parseOsRelease(text: string): ImageOsRelease | null {
  const values = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\(["\\$`])/g, '$1');
    }
    values.set(m[1], value);
  }
  const get = (key: string): string | null => values.get(key) || null;
  const result: ImageOsRelease = {
    id: get('ID'),
    versionId: get('VERSION_ID'),
    versionCodename: get('VERSION_CODENAME') ?? debianCodenameIn(get('VERSION')),
    prettyName: get('PRETTY_NAME'),
  };
  return result.id || result.versionId || result.versionCodename || result.prettyName ? result : null;
}

/** Old os-release files (Raspbian stretch) have no VERSION_CODENAME, only `VERSION="9 (stretch)"`. */
function debianCodenameIn(version: string | null): string | null {
  const m = version ? /\(([a-z]+)\)/.exec(version) : null;
  return m ? m[1] : null;
}

/** Debian codenames in release order; Raspberry Pi OS follows Debian's. */
const DEBIAN_CODENAMES = ['jessie', 'stretch', 'buster', 'bullseye', 'bookworm', 'trixie', 'forky', 'duke'];
const BOOKWORM = DEBIAN_CODENAMES.indexOf('bookworm');

/**
 * Whether the FAT partition belongs in `boot/firmware` (Raspberry Pi OS since Bookworm mounts it
 * there) or `boot` (Bullseye and older): by codename, else by Debian's VERSION_ID (12 = bookworm),
 * else `boot/firmware` only when the image already has an empty `boot/firmware` to mount it on.
 */
export function bootFolderFor(osRelease: ImageOsRelease | null, hasEmptyFirmwareDir: boolean): 'boot/firmware' | 'boot' {
  const codename = osRelease?.versionCodename?.toLowerCase() ?? null;
  const index = codename ? DEBIAN_CODENAMES.indexOf(codename) : -1;
  if (index >= 0) return index >= BOOKWORM ? 'boot/firmware' : 'boot';
  const debianLike = osRelease?.id === 'debian' || osRelease?.id === 'raspbian';
  const major = osRelease?.versionId ? Number.parseInt(osRelease.versionId, 10) : NaN;
  if (debianLike && Number.isFinite(major)) return major >= 12 ? 'boot/firmware' : 'boot';
  return hasEmptyFirmwareDir ? 'boot/firmware' : 'boot';
}

/** The Architecture of the essential, installed, non-`all` packages in a dpkg status file. */
export function architectureFromDpkgStatus(text: string): string | null {
  const counts = new Map<string, number>();
  for (const paragraph of text.split(/\n\s*\n/)) {
    if (!/^Essential: yes$/m.test(paragraph)) continue;
    if (!/^Status: .* installed$/m.test(paragraph)) continue;
    const arch = /^Architecture: (\S+)$/m.exec(paragraph)?.[1];
    if (arch && arch !== 'all') counts.set(arch, (counts.get(arch) ?? 0) + 1);
  }
  let best: string | null = null;
  for (const [arch, n] of counts) if (best === null || n > (counts.get(best) ?? 0)) best = arch;
  return best;
}

const EM_386 = 3;
const EM_MIPS = 8;
const EM_PPC = 20;
const EM_PPC64 = 21;
const EM_S390 = 22;
const EM_ARM = 40;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;
const EM_RISCV = 243;
const EM_LOONGARCH = 258;
/** e_flags bit of a hard-float (VFP) ARM EABI binary: armhf rather than armel. */
const EF_ARM_ABI_FLOAT_HARD = 0x400;

/** The Debian architecture of an ELF executable from its first 52+ bytes, or null. */
export function architectureFromElf(header: Uint8Array): string | null {
  if (header.length < 52 || header[0] !== 0x7f || header[1] !== 0x45 || header[2] !== 0x4c || header[3] !== 0x46) return null;
  const is64 = header[4] === 2;
  const little = header[5] === 1;
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const machine = view.getUint16(18, little);
  // e_flags sits after e_entry, e_phoff, e_shoff (4 or 8 bytes each).
  const flagsAt = is64 ? 48 : 36;
  if (header.length < flagsAt + 4) return null;
  const flags = view.getUint32(flagsAt, little);
  switch (machine) {
    case EM_X86_64:
      return is64 ? 'amd64' : 'x32';
    case EM_386:
      return 'i386';
    case EM_AARCH64:
      return 'arm64';
    case EM_ARM:
      return flags & EF_ARM_ABI_FLOAT_HARD ? 'armhf' : 'armel';
    case EM_RISCV:
      return is64 ? 'riscv64' : null;
    case EM_PPC64:
      return little ? 'ppc64el' : 'ppc64';
    case EM_PPC:
      return 'powerpc';
    case EM_S390:
      return is64 ? 's390x' : null;
    case EM_MIPS:
      return is64 ? (little ? 'mips64el' : null) : little ? 'mipsel' : null;
    case EM_LOONGARCH:
      return is64 ? 'loong64' : null;
    default:
      return null;
  }
}

const MAX_LINKS = 40;

/**
 * `path` (absolute inside the image) resolved inside `root`: symlinks are followed with the image's
 * root as `/`, `..` never climbs above it. Null when it does not exist or loops.
 */
export async function resolveInRoot(root: string, path: string): Promise<string | null> {
  // The folders on the way are resolved as the converter resolves them (fs-image-reader.ts); here a
  // last component that is a symlink is followed too, inside the image.
  let current = path;
  for (let links = 0; links <= MAX_LINKS; links++) {
    const host = resolveInImage(root, current);
    if (host === null) return null;
    let st;
    try {
      st = await lstat(host);
    } catch {
      return null;
    }
    if (!st.isSymbolicLink()) return host;
    const target = await readlink(host);
    current = target.startsWith('/') ? target : posix.join(posix.dirname(`/${relative(root, host)}`), target);
  }
  return null;
}

async function readInRoot(root: string, path: string, maxBytes: number): Promise<Buffer | null> {
  const real = await resolveInRoot(root, path);
  if (!real) return null;
  try {
    const st = await lstat(real);
    if (!st.isFile()) return null;
    if (st.size <= maxBytes) return await readFile(real);
    const fh = await open(real, 'r');
    try {
      const buf = Buffer.alloc(maxBytes);
      const { bytesRead } = await fh.read(buf, 0, maxBytes, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

/** os-release and architecture of the root tree at `root`. */
export async function detectOs(root: string): Promise<{ osRelease: ImageOsRelease | null; architecture: string | null }> {
  let osRelease: ImageOsRelease | null = null;
  for (const path of ['/etc/os-release', '/usr/lib/os-release']) {
    const text = await readInRoot(root, path, 64 * 1024);
    if (text) {
      osRelease = parseOsRelease(text.toString('utf8'));
      if (osRelease) break;
    }
  }
  let architecture: string | null = null;
  const status = await readInRoot(root, '/var/lib/dpkg/status', 64 * 1024 * 1024);
  if (status) architecture = architectureFromDpkgStatus(status.toString('utf8'));
  for (const path of ['/bin/sh', '/usr/bin/env']) {
    if (architecture) break;
    const header = await readInRoot(root, path, 64);
    if (header) architecture = architectureFromElf(header);
  }
  return { osRelease, architecture };
}
