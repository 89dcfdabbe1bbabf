/**
 * What converting an OS image for network boot changes, decided without writing anything
 * (docs/pi-netboot-protocol.md §5). Pure: it reads the image through a small port and returns the
 * intended state of every file that must change; converter.ts carries the plan out (each file
 * replaced by rename, never written in place) and fs-image-reader.ts is the port on disk.
 *
 * The plan lists only files whose intended state differs from the current one, so converting a
 * converted image with the same inputs plans nothing: the conversion is idempotent by construction,
 * and `plan()` is exactly the diff `convert()` makes.
 *
 * Steps (each in its own pure module where there is text to edit):
 * - /etc/fstab (fstab.edit.ts), and the mount points its block needs;
 * - first-boot units (resize, SSH host keys, first-user wizard) and swap: wants/ links removed and the
 *   units masked (a `/dev/null` symlink in /etc/systemd/system beats any unit file and any enable);
 * - LDAP: nslcd.conf, the CA, nsswitch.conf (nss-ldap.edit.ts);
 * - sudo: rules that could match directory users disabled, bramble's drop-in (sudoers.edit.ts);
 * - the "I'm up" report: /usr/local/sbin/bramble-booted and its unit, when a report port is given
 *   (booted-unit.edit.ts).
 */
import { createHash } from 'node:crypto';
import type { ConversionInputs } from '../../commands/image-ports';
import { validationError } from '../../domain/shared/domain-error';
import type { ImageFileChange } from '../../plugin-api/events';
import { BOOTED_SCRIPT_PATH, BOOTED_UNIT, bootedScript, bootedUnit } from './booted-unit.edit';
import { convertFstab } from './fstab.edit';
import { addLdapToNsswitch, installedPackages, LDAP_PACKAGES, renderNslcdConf } from './nss-ldap.edit';
import { isReadBySudo, neutralizeSudoers, parseAccounts, SUDOERS_DROP_IN } from './sudoers.edit';

/** What the planner may know about an entry (lstat: symlinks are not followed). */
export interface ImageEntry {
  kind: 'file' | 'directory' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
}

/** Read access to an image tree; every path is absolute inside the image (`/etc/fstab`). */
export interface ImageReader {
  lstat(path: string): ImageEntry | null;
  /** A regular file's bytes; null when absent or not a regular file (a symlink is not followed). */
  readFile(path: string): Buffer | null;
  readlink(path: string): string | null;
  /** Names in a folder (sorted); empty when it is absent or not a folder. */
  readdir(path: string): string[];
}

export type IntendedState =
  | { kind: 'file'; content: Buffer; mode: number; uid: number; gid: number }
  | { kind: 'symlink'; target: string }
  | { kind: 'directory'; mode: number; uid: number; gid: number }
  | { kind: 'absent' };

export interface PlannedChange {
  path: string;
  state: IntendedState;
  change: ImageFileChange;
}

export interface ConversionPlan {
  /** Sorted by path, so a folder comes before what goes in it. */
  changes: PlannedChange[];
  warnings: string[];
}

/** First-boot and swap units, with why each must not run on a shared network root. */
export const DISABLED_UNITS: Record<string, string> = {
  'rpi-resizerootfs.service': 'grows the SD card root partition (there is none)',
  'resize2fs_once.service': 'grows the SD card root file system (Bullseye and older)',
  'regenerate_ssh_host_keys.service': 'makes new SSH host keys at first boot (the root is read-only and shared)',
  'sshswitch.service': 'enables SSH when /boot/ssh exists, by writing to the root',
  'userconfig.service': 'first-user wizard (accounts come from the directory)',
  'dphys-swapfile.service': 'swap file (no swap file on a shared read-only root)',
};

/** Where packages put unit files (a unit is masked only if the image has it or enables it). */
const UNIT_DIRS = ['/lib/systemd/system', '/usr/lib/systemd/system', '/etc/systemd/system'];

/** The desktop's first-boot wizard. */
const PIWIZ_AUTOSTART = '/etc/xdg/autostart/piwiz.desktop';
const SWAP_FILE = '/var/swap';

const ROOT_DIR = { kind: 'directory', mode: 0o755, uid: 0, gid: 0 } as const;

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function fileState(content: string, mode: number, uid = 0, gid = 0): IntendedState {
  return { kind: 'file', content: Buffer.from(content, 'utf8'), mode, uid, gid };
}

export function planConversion(image: ImageReader, inputs: ConversionInputs): ConversionPlan {
  const intended = new Map<string, IntendedState>();
  const warnings: string[] = [];
  const want = (path: string, state: IntendedState): void => {
    if (intended.has(path)) throw new Error(`conversion planner: ${path} planned twice`);
    intended.set(path, state);
  };

  // fstab, and the mount points its block needs (a read-only root cannot make them at boot).
  const fstabNow = image.readFile('/etc/fstab');
  const fstab = convertFstab(fstabNow?.toString('utf8') ?? null, {
    homes: inputs.homes ? { serverIp: inputs.serverIp, ...inputs.homes } : null,
    present: (path) => image.lstat(path)?.kind === 'directory',
  });
  const fstabMeta = image.lstat('/etc/fstab');
  want('/etc/fstab', fileState(fstab.text, fstabMeta?.kind === 'file' ? fstabMeta.mode & 0o7777 : 0o644));
  for (const line of fstab.replacedLines) warnings.push(`/etc/fstab: removed "${line}": bramble mounts that folder itself`);
  for (const mountPoint of fstab.mountPoints) {
    if (image.lstat(mountPoint)?.kind !== 'directory') want(mountPoint, ROOT_DIR);
  }
  if (inputs.homes && !image.lstat('/usr/sbin/mount.nfs') && !image.lstat('/sbin/mount.nfs')) {
    warnings.push('/home over NFS needs mount.nfs in the image: apt install nfs-common (an image command can do it)');
  }

  // First-boot units and swap.
  const wantsDirs = image.readdir('/etc/systemd/system').filter((name) => name.endsWith('.wants') || name.endsWith('.requires'));
  for (const unit of Object.keys(DISABLED_UNITS)) {
    let known =
      UNIT_DIRS.some((dir) => image.lstat(`${dir}/${unit}`) !== null) ||
      image.lstat(`/etc/init.d/${unit.replace(/\.service$/, '')}`) !== null;
    for (const dir of wantsDirs) {
      const link = `/etc/systemd/system/${dir}/${unit}`;
      if (image.lstat(link)) {
        want(link, { kind: 'absent' });
        known = true;
      }
    }
    if (known) want(`/etc/systemd/system/${unit}`, { kind: 'symlink', target: '/dev/null' });
  }
  if (image.lstat(PIWIZ_AUTOSTART)) want(PIWIZ_AUTOSTART, { kind: 'absent' });
  if (image.lstat(SWAP_FILE)?.kind === 'file') want(SWAP_FILE, { kind: 'absent' });

  // LDAP.
  if (inputs.ldap) {
    const ldap = inputs.ldap;
    if (!isPlainAbsolutePath(ldap.caPath))
      throw validationError('ldap.caPath', `${ldap.caPath} must be an absolute path without empty, . or .. segments`);
    const installed = installedPackages(image.readFile('/var/lib/dpkg/status')?.toString('utf8') ?? null);
    const missing = LDAP_PACKAGES.filter((p) => !installed.has(p));
    if (missing.length > 0) {
      warnings.push(
        `directory logins need ${missing.join(', ')} in the image: run the image command ` +
          '"apt-get install -y nslcd libnss-ldapd libpam-ldapd", then convert again (their install rewrites nslcd.conf)',
      );
    }
    const nslcdGid = parseAccounts(null, image.readFile('/etc/group')?.toString('utf8') ?? null).groups.get('nslcd') ?? 0;
    want('/etc/nslcd.conf', fileState(renderNslcdConf(ldap), 0o640, 0, nslcdGid));
    const pem = ldap.caCertificatePem.endsWith('\n') ? ldap.caCertificatePem : `${ldap.caCertificatePem}\n`;
    want(ldap.caPath, fileState(pem, 0o644));
    const nsswitchMeta = image.lstat('/etc/nsswitch.conf');
    want(
      '/etc/nsswitch.conf',
      fileState(
        addLdapToNsswitch(image.readFile('/etc/nsswitch.conf')?.toString('utf8') ?? null),
        nsswitchMeta?.kind === 'file' ? nsswitchMeta.mode & 0o7777 : 0o644,
      ),
    );
  } else {
    warnings.push("no LDAP settings (the LDAP plugin is not started): accounts stay the image's local ones; convert again once it runs");
  }

  // sudo.
  const accounts = parseAccounts(
    image.readFile('/etc/passwd')?.toString('utf8') ?? null,
    image.readFile('/etc/group')?.toString('utf8') ?? null,
  );
  for (const name of image.readdir('/etc/sudoers.d')) {
    const path = `/etc/sudoers.d/${name}`;
    const meta = image.lstat(path);
    if (name === 'bramble' || !isReadBySudo(name) || meta?.kind !== 'file') continue;
    const edit = neutralizeSudoers(image.readFile(path)?.toString('utf8') ?? '', accounts);
    if (edit.text === null) continue;
    want(path, fileState(edit.text, meta.mode & 0o7777, meta.uid, meta.gid));
    for (const rule of edit.disabled) warnings.push(`${path}: disabled ${rule}`);
  }
  const mainSudoers = neutralizeSudoers(image.readFile('/etc/sudoers')?.toString('utf8') ?? '', accounts);
  for (const rule of mainSudoers.disabled) warnings.push(`/etc/sudoers: ${rule} could give a directory user sudo; edit it in the image`);
  if (image.lstat('/etc/sudoers.d')?.kind === 'directory' || image.lstat('/etc/sudoers')) {
    want('/etc/sudoers.d/bramble', fileState(SUDOERS_DROP_IN, 0o440));
  }

  // "I'm up" report (booted-unit.edit.ts): the script, its unit, the wants link.
  const unitPath = `/etc/systemd/system/${BOOTED_UNIT}`;
  const wantsLink = `/etc/systemd/system/multi-user.target.wants/${BOOTED_UNIT}`;
  if (inputs.bootReportPort) {
    if (!image.lstat('/bin/bash') && !image.lstat('/usr/bin/bash')) warnings.push('the boot report needs bash in the image');
    want(BOOTED_SCRIPT_PATH, fileState(bootedScript(inputs.bootReportPort), 0o755));
    want(unitPath, fileState(bootedUnit(), 0o644));
    want(wantsLink, { kind: 'symlink', target: unitPath });
  } else {
    want(BOOTED_SCRIPT_PATH, { kind: 'absent' });
    want(unitPath, { kind: 'absent' });
    want(wantsLink, { kind: 'absent' });
  }

  // Parents of what is created.
  for (const [path, state] of [...intended]) {
    if (state.kind === 'absent') continue;
    for (let dir = parentOf(path); dir !== '/'; dir = parentOf(dir)) {
      if (image.lstat(dir)) break;
      if (!intended.has(dir)) intended.set(dir, ROOT_DIR);
    }
  }

  const changes: PlannedChange[] = [];
  for (const path of [...intended.keys()].sort()) {
    const state = intended.get(path) as IntendedState;
    const change = diff(image, path, state);
    if (change) changes.push({ path, state, change });
  }
  return { changes, warnings };
}

/** `/a/b`: absolute, no empty, `.` or `..` segment, no NUL or newline. */
export function isPlainAbsolutePath(path: string): boolean {
  if (!path.startsWith('/') || /[\0\n]/.test(path)) return false;
  return path
    .slice(1)
    .split('/')
    .every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The change that brings `path` to `state`, or null when it is there already. */
function diff(image: ImageReader, path: string, state: IntendedState): ImageFileChange | null {
  const now = image.lstat(path);
  switch (state.kind) {
    case 'absent':
      return now ? { path, action: 'removed', sha256: null } : null;
    case 'directory':
      return now?.kind === 'directory' ? null : { path, action: now ? 'modified' : 'created', sha256: null };
    case 'symlink':
      return now?.kind === 'symlink' && image.readlink(path) === state.target
        ? null
        : { path, action: now ? 'modified' : 'created', sha256: null };
    case 'file': {
      const same =
        now?.kind === 'file' &&
        (now.mode & 0o7777) === state.mode &&
        now.uid === state.uid &&
        now.gid === state.gid &&
        image.readFile(path)?.equals(state.content) === true;
      return same ? null : { path, action: now ? 'modified' : 'created', sha256: sha256(state.content) };
    }
    default: {
      const never: never = state;
      return never;
    }
  }
}
