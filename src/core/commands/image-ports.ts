/**
 * The file work behind image commands, as ports (adapters: src/core/adapters/images). The image
 * commands decide; these move bytes. Every operation that creates a tree creates it whole or not at
 * all: it builds in a staging folder beside the target (same file system) and renames it into place
 * at the end; on failure, abort or crash the staging folder is removed (and a stale one left by a
 * crash is removed by `sweepStaging`). Nothing here records events: the command does, at the end.
 */
import type { ImageFileChange, ImageOsRelease, ImageSource } from '../plugin-api/events';
import type { ImageConversionContribution } from '../plugin-api/plugin';

/** Live progress of a long operation (import, export, clone, command). */
export interface ImageProgress {
  /** `reading`, `extracting-boot`, `extracting-root`, `fixing-up`, `hashing`, `cloning`, `writing`... */
  phase: string;
  /** Bytes of the source consumed (import) or written (export). */
  bytesDone: number;
  /** Total bytes when known (a file's size), else null. */
  bytesTotal: number | null;
  /** Files written so far. */
  files: number;
}

export interface ImageJobOptions {
  /** Aborts the operation: it rejects with DomainError IMAGE_JOB_ABORTED and leaves nothing behind. */
  signal?: AbortSignal;
  /** Called at most every ~100 ms and once at the end. */
  onProgress?: (progress: ImageProgress) => void;
}

/** What an import found. */
export interface ImportResult {
  source: ImageSource;
  /** Absolute boot folder inside the new tree: `<target>/boot/firmware` or `<target>/boot`. */
  bootPath: string;
  sizeBytes: number;
  fileCount: number;
  osRelease: ImageOsRelease | null;
  architecture: string | null;
  /** What could not be kept on this file system (xattrs, device nodes...), for the admin. */
  warnings: string[];
}

export interface ImageImporter {
  /**
   * Imports `source` (absolute path: a .tar/.tar.gz/.tar.xz root tarball, a .img/.img.xz disk
   * image, or a directory) as a new tree at `target` (which must not exist). Owners, modes,
   * symlinks, hard links, device nodes and file capabilities are kept where the target allows.
   * Errors: DomainError IMAGE_INVALID (not an OS image, unknown format, no boot folder...),
   * IMAGE_IMPORT_FAILED (a tool failed: its message says which and why), IMAGE_JOB_ABORTED.
   */
  import(source: string, target: string, options?: ImageJobOptions): Promise<ImportResult>;
  /** The `.tar.xz` of a tree at `file` (must not exist; written whole or not at all). */
  export(tree: string, file: string, options?: ImageJobOptions): Promise<{ sha256: string; sizeBytes: number }>;
}

/** How a version tree is stored next to its parent. */
export type CloneMethod = 'reflink' | 'hardlink' | 'copy';

export interface ImageVersionStore {
  /**
   * A new tree at `target` (must not exist) with `source`'s content, copy-on-write: reflinks where
   * the file system has them, else hard links (files in a version are never written in place: every
   * writer replaces a file by rename, see ImageConverter and ImageCommandRunner), else copies.
   */
  clone(source: string, target: string, options?: ImageJobOptions): Promise<{ method: CloneMethod; files: number }>;
  /** Removes a tree bramble made (refuses a path outside the images folder). */
  remove(tree: string): Promise<void>;
  /** Removes staging folders a crash left in the images folder. */
  sweepStaging(): Promise<string[]>;
}

/** What a converted image needs to know about the server. */
export interface ConversionInputs {
  /** The address Pis reach bramble at. */
  serverIp: string;
  /** Home folders over NFS: the server's export path for `/home`; null leaves /home local (tmpfs). */
  homes: NonNullable<ImageConversionContribution['homes']> | null;
  /** LDAP for nslcd (the LDAP plugin's part); null leaves NSS/PAM as they are (with a warning). */
  ldap: NonNullable<ImageConversionContribution['ldap']> | null;
  /** TCP port of bramble's "I'm up" report listener (the `bootReportPort` setting); null: no report unit. */
  bootReportPort: number | null;
}

export interface ConversionResult {
  /** Every file changed, sorted by path (empty: the tree was already converted with these inputs). */
  changes: ImageFileChange[];
  warnings: string[];
}

export interface ImageConverter {
  /** What `convert` would change in `root` (read-only). Empty when converting again would change nothing. */
  plan(root: string, inputs: ConversionInputs): Promise<ConversionResult>;
  /** Converts `root` in place (a fresh clone): every write replaces the file by rename, never in place. */
  convert(root: string, inputs: ConversionInputs): Promise<ConversionResult>;
}

export interface CommandRunResult {
  exitCode: number | null;
  signal: string | null;
  logSha256: string;
  logBytes: number;
  durationMs: number;
}

export interface ImageCommandRunner {
  /**
   * Runs `command` (a shell line, `/bin/sh -c`) in a chroot of `base` seen through a copy-on-write
   * layer, and, only when it exits 0, makes the result a new tree at `target` (a clone of `base` plus
   * the layer). `base` is never written. The architecture decides whether qemu-user-static is needed
   * (IMAGE_ARCH_UNSUPPORTED when it is and binfmt has no interpreter for it, saying how to fix it).
   */
  run(base: string, target: string, command: string, options: CommandRunOptions): Promise<CommandRunResult>;
}

export interface CommandRunOptions extends ImageJobOptions {
  architecture: string | null;
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  /** Kills the command after this long (default 1 hour). */
  timeoutMs?: number;
}

export const IMAGE_IMPORTER = Symbol('IMAGE_IMPORTER');
export const IMAGE_VERSION_STORE = Symbol('IMAGE_VERSION_STORE');
export const IMAGE_CONVERTER = Symbol('IMAGE_CONVERTER');
export const IMAGE_COMMAND_RUNNER = Symbol('IMAGE_COMMAND_RUNNER');
