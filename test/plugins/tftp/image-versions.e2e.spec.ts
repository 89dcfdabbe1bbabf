/**
 * Image versions as a Pi sees them over TFTP (curl in a lab namespace): a Pi that started booting
 * version 1 keeps getting version 1's files and an NFS root naming version 1's tree after version
 * 2 is activated, and that version cannot be deleted while the Pi runs it; a Pi that starts a
 * boot afterwards gets version 2.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateImageVersionCommand, DeleteImageVersionCommand } from '../../../src/core/commands/image.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import type { DomainError } from '../../../src/core/domain/shared/domain-error';
import { execStatus, startTftpLab, tftpLabUnavailable, type TftpLab } from '../../support/tftp-lab';
import { eventually } from '../../support/temp';

const skip = tftpLabUnavailable();

describe('TFTP and image versions', { skip: skip ?? false }, () => {
  let lab: TftpLab;
  let out = 0;
  let v2: string;

  const curl = async (host: string, name: string): Promise<string> => {
    const file = path.join(lab.dir, `v-out-${++out}`);
    const r = await execStatus(lab, host, 'curl', ['-sS', '--max-time', '10', '-o', file, `tftp://${lab.serverIp}/${name}`], {
      timeoutMs: 15_000,
    });
    assert.equal(r.code, 0, r.stderr);
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  };

  before(async () => {
    lab = await startTftpLab();
    lab.writeBootFile('cmdline.txt', 'console=tty1 root=PARTUUID=1-02 rootwait\n');
    lab.writeBootFile('start4.elf', 'firmware v1');
    v2 = path.join(lab.dir, 'image-1-v2');
    mkdirSync(path.join(v2, 'boot', 'firmware'), { recursive: true });
    mkdirSync(path.join(v2, 'etc'), { recursive: true });
    writeFileSync(path.join(v2, 'boot', 'firmware', 'cmdline.txt'), 'console=tty1 root=PARTUUID=1-02 rootwait\n');
    writeFileSync(path.join(v2, 'boot', 'firmware', 'start4.elf'), 'firmware v2');
  });
  after(async () => {
    await lab?.close();
  });

  it('a boot in progress keeps its version; a boot started later gets the new one; the old one is in use', async () => {
    const early = await lab.addPi('early', { mac: 'dc:a6:32:07:00:01' });
    assert.equal(await curl('early', 'start4.elf'), 'firmware v1');

    await lab.core.exec(
      new CreateImageVersionCommand(
        {
          data: {
            imageId: lab.image.id,
            version: 2,
            parentVersion: 1,
            reason: 'command',
            path: v2,
            bootPath: path.join(v2, 'boot', 'firmware'),
            changes: [],
            command: { command: 'true', exitCode: 0, signal: null, logSha256: '0'.repeat(64), logBytes: 0, durationMs: 1 },
          },
          activate: true,
        },
        commandMeta('admin:test'),
      ),
    );
    assert.equal(lab.core.queries.image(lab.image.id)?.version, 2);

    // The Pi that started on version 1 goes on with version 1, and its NFS root is version 1's tree.
    const cmdline = await curl('early', 'cmdline.txt');
    assert.match(cmdline, new RegExp(`nfsroot=${lab.serverIp}:${lab.image.root},vers=3`));
    assert.equal(await curl('early', 'start4.elf'), 'firmware v1');

    // A Pi starting now gets version 2.
    const late = await lab.addPi('late', { mac: 'dc:a6:32:07:00:02' });
    assert.equal(await curl('late', 'start4.elf'), 'firmware v2');
    assert.match(await curl('late', 'cmdline.txt'), new RegExp(`nfsroot=${lab.serverIp}:${v2},vers=3`));

    // Each boot's version is a fact, and the client's booted version follows it.
    await eventually(() => lab.core.queries.client(early.mac)?.bootedImage?.version === 1, 5000, 'early booted v1');
    await eventually(() => lab.core.queries.client(late.mac)?.bootedImage?.version === 2, 5000, 'late booted v2');
    const facts = (await lab.bootEvents(early.mac)).filter((e) => (e.data as { stage?: string }).stage === 'tftp.image-version');
    assert.equal(facts.length, 1, 'one fact per boot, not per file');

    // Version 1 runs on the early Pi: it cannot be deleted.
    await assert.rejects(
      lab.core.exec(new DeleteImageVersionCommand({ imageId: lab.image.id, version: 1 }, commandMeta('admin:test'))),
      (e: DomainError) => e.code === 'IMAGE_IN_USE' && e.message.includes(early.mac),
    );
  });
});
