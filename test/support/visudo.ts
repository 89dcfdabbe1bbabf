/**
 * `visudo -c -f FILE`: sudo's own syntax check of a sudoers file. visudo comes from the sudo package
 * unpacked (not installed) by scripts/ensure-test-deps.sh into VISUDO_DIR.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const VISUDO_DIR = '/var/cache/bramble-test/sudo';

/** Runs visudo's check on `file`; throws when visudo is not unpacked (run scripts/ensure-test-deps.sh). */
export function visudoCheck(file: string): { ok: boolean; output: string } {
  const visudo = join(VISUDO_DIR, 'usr/sbin/visudo');
  if (!existsSync(visudo)) throw new Error(`${visudo} is missing: run scripts/ensure-test-deps.sh as root`);
  const result = spawnSync(visudo, ['-c', '-f', file], {
    encoding: 'utf8',
    env: { LD_LIBRARY_PATH: join(VISUDO_DIR, 'usr/libexec/sudo'), PATH: '/usr/bin:/bin' },
    timeout: 10_000,
  });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}
