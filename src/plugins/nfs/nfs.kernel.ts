/**
 * The kernel backend: the host's nfs-kernel-server serves, bramble owns one exports file
 * (`exportsFile`, by default /etc/exports.d/bramble.exports), rewritten whole and atomically (a
 * temporary file beside it, then a rename) at each change, then `exportfs -ra` applies it.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { run, type Spawner } from './nfs.process';

export class KernelExports {
  problem: string | null = null;
  applied = 0;

  constructor(
    private readonly exportsFile: string,
    private readonly spawn: Spawner,
  ) {}

  async apply(content: string): Promise<void> {
    try {
      await fs.mkdir(path.dirname(this.exportsFile), { recursive: true, mode: 0o755 });
      const tmp = `${this.exportsFile}.tmp-${process.pid}`;
      await fs.writeFile(tmp, content, { mode: 0o644 });
      await fs.rename(tmp, this.exportsFile);
    } catch (error) {
      this.problem = `cannot write ${this.exportsFile}: ${(error as Error).message}`;
      return;
    }
    const result = await run(this.spawn, 'exportfs', ['-ra'], 30_000);
    if (result.code !== 0) {
      this.problem = `exportfs -ra failed (${result.code ?? 'did not run'}): ${result.output.split('\n').slice(-3).join(' ').slice(0, 300)}`;
      return;
    }
    this.applied++;
    this.problem = null;
  }
}
