/**
 * The kernel NFS server's exports file (exports(5)) for bramble's exports, rendered from the
 * exports projection, pure. One line per export: the path in double quotes (exports(5): a name
 * with spaces is quoted), then `client(options)` per client. Paths have already passed
 * nfs.paths.ts (no quotes, backslashes, newlines...), and are checked again here.
 *
 * Options: `ro`/`rw`, `root_squash` on the homes (root on a Pi is nobody there) and
 * `no_root_squash` on a read-only image root (its OS must read its root-only files: nfs.ganesha-config.ts), `sync`, `no_subtree_check`
 * (the exportfs default, said aloud to silence its warning), `sec=sys`, and an `fsid` per export so
 * that trees on file systems without a UUID (tmpfs, overlay) export too. The NFS versions are not
 * per export in the kernel server: they are nfsd's (/etc/nfs.conf, [nfsd] vers3=/vers4=).
 */
import { checkClients, claimExportId, squashes, WRITTEN_BY_BRAMBLE, type GaneshaExport } from './nfs.ganesha-config';
import { pathProblem } from './nfs.paths';

/** The same numbered exports ganesha gets: the id is the kernel's fsid. */
export type KernelExport = GaneshaExport;

export function renderKernelExports(exports: readonly KernelExport[]): string {
  const lines = [WRITTEN_BY_BRAMBLE];
  const ids = new Set<number>();
  for (const e of exports) {
    claimExportId(ids, e.exportId);
    const problem = pathProblem(e.path);
    if (problem) throw new Error(`refusing to write path ${JSON.stringify(e.path)}: ${problem}`);
    if (e.clients.length === 0) throw new Error(`export ${e.path} has no clients`);
    checkClients(e.clients);
    const options = `${e.access},sync,no_subtree_check,${squashes(e) ? 'root_squash' : 'no_root_squash'},sec=sys,fsid=${e.exportId}`;
    lines.push(`"${e.path}" ${e.clients.map((c) => `${c}(${options})`).join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}
