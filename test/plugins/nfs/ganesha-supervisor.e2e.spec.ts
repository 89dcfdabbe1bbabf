/**
 * The ganesha supervisor (nfs.ganesha.ts) against the real ganesha.nfsd in the NFS lab's server
 * namespace: a server that cannot start is reported with ganesha's own fatal line and retried with
 * a growing delay (not in a tight loop); a ganesha left running by a killed bramble (same data
 * folder) is stopped before the new one starts; stop() leaves no process behind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../src/core/logging/logger';
import { GaneshaServer } from '../../../src/plugins/nfs/nfs.ganesha';
import { renderGaneshaConfig } from '../../../src/plugins/nfs/nfs.ganesha-config';
import { canUseNetns } from '../../support/netlab';
import { missingTool, NfsLab } from '../../support/nfs-lab';
import { eventually, tempDir } from '../../support/temp';

const skip = canUseNetns() ?? missingTool(['ganesha.nfsd', 'rpcbind', 'nsenter']) ?? false;

describe('ganesha supervisor', { skip, timeout: 60_000 }, () => {
  let lab: NfsLab;
  let tmp: { dir: string; cleanup(): void };
  before(async () => {
    lab = await NfsLab.create();
    tmp = tempDir('bramble-nfs-supervisor-');
  });
  after(async () => {
    await lab?.destroy();
    tmp?.cleanup();
  });

  it('a ganesha that cannot bind: health gets its fatal line; retries back off', async () => {
    const g = new GaneshaServer({ dir: `${tmp.dir}/a`, spawn: lab.spawn, logger: silentLogger, backoffMs: 300, readyTimeoutMs: 5000 });
    try {
      // An address that is not on the server's interface.
      await g.apply(
        renderGaneshaConfig({ exports: [], versions: [4], bindAddress: '10.254.254.1', recoveryRoot: g.recoveryRoot }),
        'k',
        false,
      );
      assert.equal(g.running, false);
      assert.match(g.problem ?? '', /^ganesha\.nfsd exited \(code \d+\): .*FATAL.*bind/i);
      await new Promise((r) => setTimeout(r, 2500));
      // 300, 600, 1200 ms: three retries in 2.5 s; a tight loop would make dozens.
      assert.ok(g.restarts >= 2 && g.restarts <= 4, `restarts: ${g.restarts}`);
    } finally {
      await g.stop();
    }
    assert.deepEqual(lab.processesInside(), []);
  });

  it('a ganesha left by a killed bramble is stopped before the new one starts', async () => {
    const dir = `${tmp.dir}/b`;
    const first = new GaneshaServer({ dir, spawn: lab.spawn, logger: silentLogger });
    const config = renderGaneshaConfig({ exports: [], versions: [3, 4], bindAddress: lab.serverIp, recoveryRoot: first.recoveryRoot });
    await first.apply(config, 'k', true);
    assert.ok(first.running, first.problem ?? '');
    const oldPid = first.pid!;
    // The "killed bramble" never calls first.stop(): a second supervisor on the same folder takes over.
    const second = new GaneshaServer({ dir, spawn: lab.spawn, logger: silentLogger });
    try {
      await second.apply(config, 'k', true);
      assert.ok(second.running, second.problem ?? '');
      assert.notEqual(second.pid, oldPid);
      await eventually(() => !lab.processesInside().includes(oldPid), 5000, 'the old ganesha gone');
    } finally {
      await second.stop();
      await first.stop();
    }
    assert.deepEqual(lab.processesInside(), []);
  });
});
