/**
 * Converts an image tree for network boot (the ImageConverter port): conversion.planner.ts decides,
 * this file writes.
 *
 * The tree is a fresh clone whose files are hard links shared with the parent version
 * (version-store.ts), so no file is ever opened for writing where it is: each new file is written
 * beside its destination as `.bramble-new-<random>` (created exclusively), given its owner and mode,
 * flushed, and renamed over the name. The rename replaces the name in this tree only; the inode the
 * parent still has is untouched. Symlinks are made the same way; removals unlink the name.
 * Destinations are resolved inside the image (fs-image-reader.ts), so a symlink in the image can
 * never send a write onto the server's own files.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  chownSync,
  chmodSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import type { ConversionInputs, ConversionResult, ImageConverter } from '../../commands/image-ports';
import { DomainError, ErrorCode } from '../../domain/shared/domain-error';
import { planConversion, type PlannedChange } from './conversion.planner';
import { FsImageReader, resolveInImage } from './fs-image-reader';

export class FsImageConverter implements ImageConverter {
  async plan(root: string, inputs: ConversionInputs): Promise<ConversionResult> {
    const plan = planConversion(new FsImageReader(root), inputs);
    return { changes: plan.changes.map((c) => c.change), warnings: plan.warnings };
  }

  async convert(root: string, inputs: ConversionInputs): Promise<ConversionResult> {
    const plan = planConversion(new FsImageReader(root), inputs);
    for (const change of plan.changes) applyChange(root, change);
    return { changes: plan.changes.map((c) => c.change), warnings: plan.warnings };
  }
}

/** Carries out one planned change (see the file comment). Changes come sorted: parents first. */
export function applyChange(root: string, { path, state }: PlannedChange): void {
  const dest = resolveInImage(root, path);
  if (dest === null)
    throw new DomainError(ErrorCode.IMAGE_IMPORT_FAILED, `conversion: ${path}: its folder is missing or not a folder in the image`);
  const existing = lstatSync(dest, { throwIfNoEntry: false });
  switch (state.kind) {
    case 'absent':
      if (existing?.isDirectory()) rmSync(dest, { recursive: true, force: true });
      else if (existing) unlinkSync(dest);
      return;
    case 'directory':
      if (existing && !existing.isDirectory()) unlinkSync(dest);
      mkdirSync(dest, { mode: 0o700 });
      chownSync(dest, state.uid, state.gid);
      chmodSync(dest, state.mode);
      return;
    case 'symlink': {
      const temp = tempBeside(dest);
      symlinkSync(state.target, temp);
      lchownSync(temp, 0, 0);
      replace(temp, dest, existing?.isDirectory() === true);
      return;
    }
    case 'file': {
      const temp = tempBeside(dest);
      const fd = openSync(temp, 'wx', 0o600);
      try {
        let offset = 0;
        while (offset < state.content.length) offset += writeSync(fd, state.content, offset);
        fchownSync(fd, state.uid, state.gid);
        fchmodSync(fd, state.mode); // after chown: chown clears setuid/setgid bits
        fsyncSync(fd);
      } catch (error) {
        closeSync(fd);
        rmSync(temp, { force: true });
        throw error;
      }
      closeSync(fd);
      replace(temp, dest, existing?.isDirectory() === true);
      return;
    }
    default: {
      const never: never = state;
      return never;
    }
  }
}

function tempBeside(dest: string): string {
  return join(dest, '..', `.bramble-new-${randomBytes(6).toString('hex')}-${basename(dest).slice(0, 64)}`);
}

function replace(temp: string, dest: string, destIsDirectory: boolean): void {
  try {
    if (destIsDirectory) rmSync(dest, { recursive: true, force: true });
    renameSync(temp, dest);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
