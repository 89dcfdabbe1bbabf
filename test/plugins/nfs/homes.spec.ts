/**
 * Home folders (nfs.homes.ts) on a real file system in a temp folder: made with the user's owner
 * and mode 0700, archived by rename, and never through a symlink planted under a user's name.
 * Needs root (chown).
 */
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { archiveHome, archiveStamp, ensureHome } from '../../../src/plugins/nfs/nfs.homes';
import { tempDir } from '../../support/temp';

const root = process.getuid?.() === 0;
const AT = new Date('2026-11-26T15:14:00.123Z');

describe('home folders', { skip: root ? false : 'needs root (chown)' }, () => {
  let tmp: { dir: string; cleanup(): void };
  let homes: string;
  let archive: string;
  before(() => {
    tmp = tempDir('bramble-nfs-homes-');
    homes = path.join(tmp.dir, 'homes');
    archive = path.join(tmp.dir, 'homes.archive');
  });
  after(() => tmp.cleanup());

  it('creates <homes>/<user> owned by uid:gid, mode 0700, whatever the umask', async () => {
    const old = process.umask(0o077);
    try {
      assert.deepEqual(await ensureHome(homes, { username: 'alice', uidNumber: 2001, gidNumber: 3001 }), {
        status: 'created',
        path: path.join(homes, 'alice'),
      });
    } finally {
      process.umask(old);
    }
    const st = statSync(path.join(homes, 'alice'));
    assert.equal(st.uid, 2001);
    assert.equal(st.gid, 3001);
    assert.equal(st.mode & 0o7777, 0o700);
    assert.equal(statSync(homes).mode & 0o777, 0o755 & ~0o077);
  });

  it('leaves an existing folder as it is', async () => {
    const p = path.join(homes, 'bob');
    mkdirSync(p, { mode: 0o750 });
    assert.equal((await ensureHome(homes, { username: 'bob', uidNumber: 2002, gidNumber: 2002 })).status, 'exists');
    assert.equal(statSync(p).uid, 0);
    assert.equal(statSync(p).mode & 0o777, 0o750);
  });

  it('a symlink under the user name: refused, its target is not chowned', async () => {
    const target = path.join(tmp.dir, 'precious');
    mkdirSync(target, { mode: 0o755 });
    symlinkSync(target, path.join(homes, 'mallory'));
    const result = await ensureHome(homes, { username: 'mallory', uidNumber: 2003, gidNumber: 2003 });
    assert.equal(result.status, 'refused');
    assert.match((result as { reason: string }).reason, /symlink/);
    assert.equal(statSync(target).uid, 0);
    assert.equal(statSync(target).mode & 0o777, 0o755);
    assert.ok(lstatSync(path.join(homes, 'mallory')).isSymbolicLink());
  });

  it('a dangling symlink under the user name: refused, nothing created at its target', async () => {
    const target = path.join(tmp.dir, 'not-there');
    symlinkSync(target, path.join(homes, 'eve'));
    assert.equal((await ensureHome(homes, { username: 'eve', uidNumber: 2004, gidNumber: 2004 })).status, 'refused');
    assert.throws(() => lstatSync(target), /ENOENT/);
  });

  it('a file under the user name: refused', async () => {
    writeFileSync(path.join(homes, 'carol'), 'x');
    assert.equal((await ensureHome(homes, { username: 'carol', uidNumber: 2005, gidNumber: 2005 })).status, 'refused');
  });

  it('names that would leave the homes folder, and uid 0, are refused before touching anything', async () => {
    for (const username of ['..', '../etc', 'a/b', '']) {
      assert.equal((await ensureHome(homes, { username, uidNumber: 2006, gidNumber: 2006 })).status, 'refused', username);
    }
    assert.equal((await ensureHome(homes, { username: 'toor', uidNumber: 0, gidNumber: 0 })).status, 'refused');
    assert.deepEqual(readdirSync(homes).sort(), ['alice', 'bob', 'carol', 'eve', 'mallory']);
  });

  it('archives a deleted user by rename, contents kept; a second archive in the same second gets -2', async () => {
    writeFileSync(path.join(homes, 'alice', 'notes.txt'), 'keep me');
    const first = await archiveHome(homes, archive, 'alice', AT);
    assert.deepEqual(first, { status: 'archived', path: path.join(archive, 'alice-20261126T151400Z') });
    assert.equal(readFileSync(path.join(archive, 'alice-20261126T151400Z', 'notes.txt'), 'utf8'), 'keep me');
    assert.equal(statSync(path.join(archive, 'alice-20261126T151400Z')).uid, 2001);
    assert.throws(() => lstatSync(path.join(homes, 'alice')), /ENOENT/);
    assert.equal(statSync(archive).mode & 0o777, 0o700);

    await ensureHome(homes, { username: 'alice', uidNumber: 2001, gidNumber: 3001 });
    assert.deepEqual(await archiveHome(homes, archive, 'alice', AT), {
      status: 'archived',
      path: path.join(archive, 'alice-20261126T151400Z-2'),
    });
  });

  it('archiving a symlink under the name is refused: link and target stay', async () => {
    const result = await archiveHome(homes, archive, 'mallory', AT);
    assert.equal(result.status, 'refused');
    assert.ok(lstatSync(path.join(homes, 'mallory')).isSymbolicLink());
    assert.ok(statSync(path.join(tmp.dir, 'precious')).isDirectory());
  });

  it('archiving a user without a folder does nothing', async () => {
    assert.equal((await archiveHome(homes, archive, 'nobody-here', AT)).status, 'absent');
  });

  it('stamp format', () => assert.equal(archiveStamp(AT), '20261126T151400Z'));
});
