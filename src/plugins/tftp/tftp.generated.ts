/**
 * The two boot files bramble writes per Pi instead of sending the image's own: `cmdline.txt` for an
 * NFS root (docs/pi-netboot-protocol.md §5.1) and `config.txt` with the Pi's own lines. Pure string
 * functions: the caller reads the image's file (tftp.files.ts) and passes the client's settings.
 */

/** Kernel arguments replaced for a network root (§5.1): removed whatever their value. */
const REPLACED_KEYS: ReadonlySet<string> = new Set(['root', 'rootfstype', 'init', 'fsck.repair', 'ip', 'nfsroot']);

/** Flags bramble adds itself, so any copy in the image's line is dropped (added once, at the end). */
const ADDED_FLAGS: ReadonlySet<string> = new Set(['ro', 'rw', 'rootwait']);

/** Whitespace as the kernel's command-line parser sees it (`isspace`). */
const SPACE = /[ \t\n\v\f\r]/;

/**
 * Split a kernel command line into arguments as the kernel does (`next_arg` in kernel/params.c):
 * whitespace separates arguments except inside double quotes, so `dyndbg="file x.c +p"` stays one
 * argument, quotes included. An unclosed quote runs to the end of the line, as in the kernel.
 * Newlines and CR are whitespace, so a CRLF file or a file split over lines becomes one line.
 */
export function splitKernelArgs(line: string): string[] {
  const args: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && SPACE.test(ch)) {
      if (current) args.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (current) args.push(current);
  return args;
}

/** `key=value` → `key`; `"key=value"` → `key` (the kernel strips a quote before the name); `quiet` → `quiet`. */
function argKey(arg: string): string {
  const bare = arg.startsWith('"') ? arg.slice(1) : arg;
  const eq = bare.indexOf('=');
  return (eq === -1 ? bare : bare.slice(0, eq)).replace(/"$/, '');
}

export interface CmdlineInput {
  /** The NFS server's address, as the Pi reaches it. */
  serverIp: string;
  /** The exported root of the image, e.g. `/srv/bramble/images/bookworm`. */
  exportPath: string;
  /** The client's own arguments (bramble's `cmdlineArgs`); may be empty or span lines. */
  extraArgs: string;
}

/**
 * The image's `cmdline.txt` made into an NFS-root line for one Pi (§5.1):
 *
 * - one line: the original's line breaks (CRLF too) become spaces, runs of whitespace one space;
 * - removed, by key and whatever the value: `root=`, `rootfstype=`, `init=` (the first-boot and
 *   resize hooks), `fsck.repair=`, `ip=`, `nfsroot=`; and any `ro`, `rw`, `rootwait`, added once below;
 * - kept, in order: everything else (`console=`, `quiet`, `splash`, `cfg80211.*`...); quoted
 *   arguments (`key="a b"`) stay intact, quotes included (see {@link splitKernelArgs});
 * - added: `ip=dhcp root=/dev/nfs nfsroot=<serverIp>:<exportPath>,vers=3,tcp ro rootwait`: a shared
 *   read-only root (§5.2), NFS version and transport named because the kernel's defaults changed;
 * - then the client's extra arguments, whitespace-normalised to the same line. The kernel takes
 *   the last `ro`/`rw` and the last `root=`-style value, so an admin's `rw` or `nfsroot=` there wins;
 * - arguments after a `--` are init's, not the kernel's [Linux kernel-parameters]: they are kept
 *   untouched and stay after bramble's arguments and the extra ones, behind the `--`.
 *
 * Ends with a single `\n`. `serverIp` and `exportPath` are written as given: a path with
 * whitespace cannot be expressed in `nfsroot=` and must be refused before this point.
 */
export function renderCmdline(original: string, input: CmdlineInput): string {
  const args = splitKernelArgs(original);
  const dashes = args.indexOf('--');
  const kernelArgs = dashes === -1 ? args : args.slice(0, dashes);
  const initArgs = dashes === -1 ? [] : args.slice(dashes + 1);
  const kept = kernelArgs.filter((arg) => !REPLACED_KEYS.has(argKey(arg)) && !ADDED_FLAGS.has(arg));
  const line = [
    ...kept,
    'ip=dhcp',
    'root=/dev/nfs',
    `nfsroot=${input.serverIp}:${input.exportPath},vers=3,tcp`,
    'ro',
    'rootwait',
    ...splitKernelArgs(input.extraArgs),
    ...(initArgs.length > 0 ? ['--', ...initArgs] : []),
  ];
  return `${line.join(' ')}\n`;
}

/** The comment line in front of a Pi's own config.txt lines. */
export const CONFIG_TXT_MARKER = "# bramble: this Pi's own lines";

/**
 * The image's `config.txt` with the Pi's own lines appended. The original is sent byte for byte;
 * when `extraLines` has anything but whitespace, the result adds a line break if the original lacks
 * one, {@link CONFIG_TXT_MARKER}, `[all]` and the lines (CRLF and lone CR made LF), ending with `\n`.
 *
 * Appending is how overriding works: for most settings the last value read wins [RPi docs:
 * config.txt], so the Pi's lines override the image's. `[all]` first because a conditional section
 * (`[pi4]`, `[cm5]`...) lasts until the next filter line: if the image's file ends inside one, the
 * Pi's lines would otherwise apply only when that filter matches. The Pi's own lines may open
 * sections of their own.
 */
export function renderConfigTxt(original: string, extraLines: string): string {
  if (extraLines.trim() === '') return original;
  const lines = extraLines.replace(/\r\n?/g, '\n').replace(/\n+$/, '');
  const sep = original === '' || original.endsWith('\n') ? '' : '\n';
  return `${original}${sep}${CONFIG_TXT_MARKER}\n[all]\n${lines}\n`;
}
