import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ConversionInputs } from '../../../src/core/commands/image-ports';
import { FsImageConverter } from '../../../src/core/adapters/images/converter';
import { resolveInImage } from '../../../src/core/adapters/images/fs-image-reader';
import { FsImageVersionStore } from '../../../src/core/adapters/images/version-store';
import { tempDir } from '../../support/temp';
import { visudoCheck } from '../../support/visudo';
import { snapshot } from './tree-snapshot';
import { BOOKWORM_FSTAB, BOOKWORM_NSSWITCH, BULLSEYE_FSTAB, DEBIAN_SUDOERS, GROUP, PASSWD, PI_NOPASSWD } from './fixtures';

const CA = '-----BEGIN CERTIFICATE-----\nMIIBbramble\n-----END CERTIFICATE-----';
const INPUTS: ConversionInputs = {
  serverIp: '10.42.0.1',
  homes: { exportPath: '/srv/bramble/homes', nfsVersion: 3 },
  ldap: {
    host: '10.42.0.1',
    port: 389,
    baseDn: 'dc=bramble,dc=local',
    startTls: true,
    caCertificatePem: CA,
    caPath: '/etc/ssl/certs/bramble-ca.pem',
  },
  bootReportPort: 6970,
};

function put(root: string, path: string, content: string, mode = 0o644): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
  chmodSync(join(root, path), mode);
}

function link(root: string, path: string, target: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  symlinkSync(target, join(root, path));
}

/** A Raspberry Pi OS-like tree: the files the conversion reads or changes, in the Bookworm layout. */
function makeImage(root: string, layout: 'bookworm' | 'bullseye', ldapPackages = true): string {
  mkdirSync(join(root, layout === 'bookworm' ? 'boot/firmware' : 'boot'), { recursive: true });
  for (const dir of ['tmp', 'var/tmp', 'var/log', 'var/spool', 'media', 'home', 'var/lib/dhcpcd', 'usr/bin', 'usr/lib/systemd/system']) {
    mkdirSync(join(root, dir), { recursive: true });
  }
  symlinkSync('/usr/lib', join(root, 'lib')); // absolute, as merged-/usr images may have: resolved inside the image
  put(root, 'etc/fstab', layout === 'bookworm' ? BOOKWORM_FSTAB : BULLSEYE_FSTAB);
  put(root, 'etc/nsswitch.conf', BOOKWORM_NSSWITCH);
  put(root, 'etc/passwd', PASSWD);
  put(root, 'etc/group', GROUP);
  put(root, 'etc/sudoers', DEBIAN_SUDOERS, 0o440);
  put(root, 'etc/sudoers.d/010_pi-nopasswd', PI_NOPASSWD, 0o440);
  put(root, 'etc/sudoers.d/README', '# sudo ignores this: it has no rules anyway\n', 0o440);
  put(root, 'usr/bin/curl', '#!/bin/sh\n', 0o755);
  put(root, 'usr/bin/bash', '', 0o755);
  put(root, 'usr/sbin/mount.nfs', '', 0o755);
  put(root, 'var/swap', 'swap', 0o600);
  put(root, 'etc/xdg/autostart/piwiz.desktop', '[Desktop Entry]\n');
  for (const unit of ['regenerate_ssh_host_keys.service', 'sshswitch.service', 'userconfig.service', 'dphys-swapfile.service']) {
    put(root, `usr/lib/systemd/system/${unit}`, '[Unit]\n');
  }
  link(
    root,
    'etc/systemd/system/multi-user.target.wants/regenerate_ssh_host_keys.service',
    '/lib/systemd/system/regenerate_ssh_host_keys.service',
  );
  link(root, 'etc/systemd/system/multi-user.target.wants/dphys-swapfile.service', '/lib/systemd/system/dphys-swapfile.service');
  link(root, 'etc/systemd/system/multi-user.target.wants/sshswitch.service', '/lib/systemd/system/sshswitch.service');
  put(root, 'etc/init.d/resize2fs_once', '#!/bin/sh\n', 0o755);
  const installed = ['curl', 'sudo', ...(ldapPackages ? ['nslcd', 'libnss-ldapd', 'libpam-ldapd'] : [])];
  put(root, 'var/lib/dpkg/status', installed.map((p) => `Package: ${p}\nStatus: install ok installed\n`).join('\n'));
  mkdirSync(join(root, 'etc/ssl/certs'), { recursive: true });
  return root;
}

describe('FsImageConverter', () => {
  let tmp: { dir: string; cleanup(): void };
  let n = 0;
  const converter = new FsImageConverter();
  const fresh = (layout: 'bookworm' | 'bullseye' = 'bookworm', ldapPackages = true): string => {
    const root = join(tmp.dir, `image-${n++}`);
    mkdirSync(root);
    return makeImage(root, layout, ldapPackages);
  };

  before(() => {
    tmp = tempDir('bramble-converter-');
  });
  after(() => tmp.cleanup());

  it('plan() lists every change and writes nothing', async () => {
    const root = fresh();
    const before = snapshot(root);
    const { changes, warnings } = await converter.plan(root, INPUTS);
    assert.equal(snapshot(root), before);
    assert.deepEqual(
      changes.map((c) => `${c.action} ${c.path}`).sort(),
      [
        'modified /etc/fstab',
        'created /etc/nslcd.conf',
        'modified /etc/nsswitch.conf',
        'created /etc/ssl/certs/bramble-ca.pem',
        'created /etc/sudoers.d/bramble',
        'modified /etc/sudoers.d/010_pi-nopasswd',
        'created /etc/systemd/system/bramble-booted.service',
        'created /etc/systemd/system/dphys-swapfile.service',
        'created /etc/systemd/system/multi-user.target.wants/bramble-booted.service',
        'removed /etc/systemd/system/multi-user.target.wants/dphys-swapfile.service',
        'removed /etc/systemd/system/multi-user.target.wants/regenerate_ssh_host_keys.service',
        'removed /etc/systemd/system/multi-user.target.wants/sshswitch.service',
        'created /etc/systemd/system/regenerate_ssh_host_keys.service',
        'created /etc/systemd/system/resize2fs_once.service',
        'created /etc/systemd/system/sshswitch.service',
        'created /usr/local',
        'created /usr/local/sbin',
        'created /usr/local/sbin/bramble-booted',
        'created /etc/systemd/system/userconfig.service',
        'removed /etc/xdg/autostart/piwiz.desktop',
        'created /var/lib/sudo',
        'removed /var/swap',
      ].sort(),
    );
    const fstab = changes.find((c) => c.path === '/etc/fstab');
    assert.match(fstab?.sha256 ?? '', /^[0-9a-f]{64}$/);
    assert.equal(changes.find((c) => c.path === '/var/swap')?.sha256, null);
    assert.deepEqual(warnings, ['/etc/sudoers.d/010_pi-nopasswd: disabled user pi: pi ALL=(ALL) NOPASSWD: ALL']);
  });

  it('convert() makes exactly the planned changes; converting again with the same inputs changes nothing', async () => {
    const root = fresh();
    const planned = await converter.plan(root, INPUTS);
    const done = await converter.convert(root, INPUTS);
    assert.deepEqual(done, planned);
    // the sha256 of each change is the content written
    for (const change of done.changes.filter((c) => c.sha256 !== null)) {
      assert.equal(
        createHash('sha256')
          .update(readFileSync(join(root, change.path)))
          .digest('hex'),
        change.sha256,
        change.path,
      );
    }
    assert.deepEqual((await converter.plan(root, INPUTS)).changes, []);
    const after = snapshot(root);
    assert.deepEqual((await converter.convert(root, INPUTS)).changes, []);
    assert.equal(snapshot(root), after, 'the second conversion touched nothing');
  });

  it('writes what the Pi needs: fstab block, masks, nslcd.conf, CA, nsswitch, sudo, boot report', async () => {
    const root = fresh();
    await converter.convert(root, INPUTS);
    const fstab = readFileSync(join(root, 'etc/fstab'), 'utf8');
    assert.match(fstab, /^10\.42\.0\.1:\/srv\/bramble\/homes \/home nfs vers=3,/m);
    assert.match(fstab, /^tmpfs \/var\/lib\/dhcpcd tmpfs /m, 'present optional folder mounted');
    assert.doesNotMatch(fstab, /PARTUUID/);
    assert.ok(lstatSync(join(root, 'var/lib/sudo')).isDirectory(), 'missing mount point created');
    for (const unit of ['regenerate_ssh_host_keys', 'sshswitch', 'userconfig', 'dphys-swapfile', 'resize2fs_once']) {
      assert.equal(readlinkSync(join(root, `etc/systemd/system/${unit}.service`)), '/dev/null', unit);
    }
    assert.equal(existsSync(join(root, 'etc/systemd/system/rpi-resizerootfs.service')), false, 'not in the image: not masked');
    const nslcd = lstatSync(join(root, 'etc/nslcd.conf'));
    assert.deepEqual([nslcd.mode & 0o7777, nslcd.uid, nslcd.gid], [0o640, 0, 111], 'root:nslcd 0640');
    assert.match(readFileSync(join(root, 'etc/nslcd.conf'), 'utf8'), /^uri ldap:\/\/10\.42\.0\.1:389\/$/m);
    assert.equal(readFileSync(join(root, 'etc/ssl/certs/bramble-ca.pem'), 'utf8'), `${CA}\n`);
    assert.equal(lstatSync(join(root, 'etc/ssl/certs/bramble-ca.pem')).mode & 0o7777, 0o644);
    assert.match(readFileSync(join(root, 'etc/nsswitch.conf'), 'utf8'), /^passwd:\s+files ldap$/m);
    const nopasswd = lstatSync(join(root, 'etc/sudoers.d/010_pi-nopasswd'));
    assert.equal(nopasswd.mode & 0o7777, 0o440, 'mode kept');
    assert.match(readFileSync(join(root, 'etc/sudoers.d/010_pi-nopasswd'), 'utf8'), /^# pi ALL/m);
    assert.equal(lstatSync(join(root, 'etc/sudoers.d/bramble')).mode & 0o7777, 0o440);
    for (const file of ['etc/sudoers.d/bramble', 'etc/sudoers.d/010_pi-nopasswd']) {
      const check = visudoCheck(join(root, file));
      assert.ok(check.ok, `${file}: ${check.output}`);
    }
    assert.equal(readFileSync(join(root, 'etc/sudoers'), 'utf8'), DEBIAN_SUDOERS);
    const unit = readFileSync(join(root, 'etc/systemd/system/bramble-booted.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/local\/sbin\/bramble-booted$/m);
    assert.match(unit, /^After=network-online\.target$/m);
    assert.doesNotMatch(unit, /^After=.*multi-user/m, 'wanted by multi-user.target: ordering after it would be a cycle');
    const script = readFileSync(join(root, 'usr/local/sbin/bramble-booted'), 'utf8');
    assert.match(script, /^#!\/bin\/bash$/m);
    assert.match(script, /^PORT=6970$/m);
    assert.equal(lstatSync(join(root, 'usr/local/sbin/bramble-booted')).mode & 0o7777, 0o755);
    assert.equal(
      readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/bramble-booted.service')),
      '/etc/systemd/system/bramble-booted.service',
    );
    assert.equal(existsSync(join(root, 'var/swap')), false);
    assert.deepEqual(
      readdirSync(join(root, 'etc')).filter((e) => e.startsWith('.bramble-new-')),
      [],
    );
  });

  it('a conversion of a hard-link clone never changes the parent (inodes and contents)', async () => {
    const images = join(tmp.dir, `images-${n++}`);
    const base = join(images, 'v1');
    mkdirSync(base, { recursive: true });
    makeImage(base, 'bookworm');
    const clone = join(images, 'v2');
    assert.equal((await new FsImageVersionStore(images).clone(base, clone)).method, 'hardlink');
    const before = snapshot(base);
    const inode = lstatSync(join(base, 'etc/fstab')).ino;
    assert.equal(lstatSync(join(clone, 'etc/fstab')).ino, inode, 'precondition: shared');
    const { changes } = await converter.convert(clone, INPUTS);
    assert.ok(changes.length > 10);
    assert.equal(snapshot(base), before, 'the parent is byte-, mode- and inode-identical');
    assert.notEqual(lstatSync(join(clone, 'etc/fstab')).ino, inode);
    assert.equal(lstatSync(join(clone, 'etc/passwd')).ino, lstatSync(join(base, 'etc/passwd')).ino, 'untouched files stay shared');
  });

  it('Bullseye layout: the /boot line goes', async () => {
    const root = fresh('bullseye');
    await converter.convert(root, INPUTS);
    const fstab = readFileSync(join(root, 'etc/fstab'), 'utf8');
    assert.doesNotMatch(fstab, /\/boot|PARTUUID/);
    assert.deepEqual((await converter.plan(root, INPUTS)).changes, []);
  });

  it('warns when the LDAP packages are missing, and when there are no LDAP settings', async () => {
    const root = fresh('bookworm', false);
    const { warnings } = await converter.plan(root, INPUTS);
    assert.ok(
      warnings.some(
        (w) => w.includes('nslcd, libnss-ldapd, libpam-ldapd') && w.includes('apt-get install -y nslcd libnss-ldapd libpam-ldapd'),
      ),
      warnings.join('\n'),
    );
    unlinkSync(join(root, 'usr/sbin/mount.nfs'));
    assert.ok((await converter.plan(root, INPUTS)).warnings.some((w) => w.includes('apt install nfs-common')));
    const noLdap = await converter.plan(root, { ...INPUTS, ldap: null });
    assert.ok(noLdap.warnings.some((w) => w.startsWith('no LDAP settings')));
    unlinkSync(join(root, 'usr/bin/bash'));
    assert.ok((await converter.plan(root, INPUTS)).warnings.includes('the boot report needs bash in the image'));
    assert.equal(
      noLdap.changes.some((c) => c.path === '/etc/nsswitch.conf' || c.path === '/etc/nslcd.conf'),
      false,
    );
  });

  it('other inputs replace bramble parts instead of adding to them; no report port removes the script and unit', async () => {
    const root = fresh();
    await converter.convert(root, INPUTS);
    const next = { ...INPUTS, homes: null, bootReportPort: null };
    const { changes } = await converter.convert(root, next);
    assert.deepEqual(
      changes.map((c) => `${c.action} ${c.path}`),
      [
        'modified /etc/fstab',
        'removed /etc/systemd/system/bramble-booted.service',
        'removed /etc/systemd/system/multi-user.target.wants/bramble-booted.service',
        'removed /usr/local/sbin/bramble-booted',
      ],
    );
    assert.match(readFileSync(join(root, 'etc/fstab'), 'utf8'), /^tmpfs \/home tmpfs /m);
    assert.deepEqual((await converter.plan(root, next)).changes, []);
  });

  it('a symlink in the image never sends a write outside it', async () => {
    const root = fresh();
    const outside = join(tmp.dir, `outside-${n++}`);
    mkdirSync(outside);
    // /etc/ssl/certs is an absolute symlink: inside the image it means <root>/etc/ssl/real, not the host's.
    mkdirSync(join(root, 'etc/ssl/real'), { recursive: true });
    const certs = join(root, 'etc/ssl/certs');
    rmdirSync(certs);
    symlinkSync('/etc/ssl/real', certs);
    link(root, 'etc/escape', outside);
    assert.equal(resolveInImage(root, '/etc/escape/x'), null, "the host's folder does not exist inside the image");
    mkdirSync(join(root, outside), { recursive: true });
    assert.equal(resolveInImage(root, '/etc/escape/x'), join(root, outside, 'x'), 'resolved against the image root');
    assert.equal(resolveInImage(root, '/etc/../../../etc/fstab'), join(root, 'etc/fstab'), '.. stops at the image root');
    await converter.convert(root, { ...INPUTS, ldap: { ...INPUTS.ldap!, caPath: '/etc/ssl/certs/bramble-ca.pem' } });
    assert.equal(readFileSync(join(root, 'etc/ssl/real/bramble-ca.pem'), 'utf8'), `${CA}\n`);
    assert.deepEqual(readdirSync(outside), []);
  });

  it('refuses a CA path with .. and a report port that is not a TCP port', async () => {
    const root = fresh();
    await assert.rejects(converter.plan(root, { ...INPUTS, ldap: { ...INPUTS.ldap!, caPath: '/etc/../../x.pem' } }), /ldap\.caPath/);
    await assert.rejects(converter.plan(root, { ...INPUTS, bootReportPort: 70_000 }), /not a TCP port/);
  });
});
