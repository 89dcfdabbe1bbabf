/**
 * The reference for the "real OS boots from bramble" test (vm-boot.e2e.spec.ts): the same Debian 12
 * VM, the same lab and the same harness, served by dnsmasq (DHCP + TFTP with an iPXE script) and
 * nfs-ganesha (read-only NFSv3 root) configured by hand, as an admin would without bramble. It
 * proves the harness (image, VM, console, login) independently of bramble, and its stage times
 * are the figure bramble's boot is compared with (printed as `# vm-boot reference: ...`).
 *
 * A local user is added to the extracted root (a line in passwd/shadow, password hashed by
 * openssl) so that the console login and command run of the harness are exercised here too.
 *
 * Slow: about 2–3 minutes (extracting the 660 MB root, then a TCG boot of 60–120 s on the shared
 * 2-core machine); in the ALONE list of scripts/run-tests.js, since it measures boot time. The image
 * build (first run only, cached in /var/cache/bramble-test) adds 3–6 minutes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { debianVmImageUnavailable, ensureDebianVmImage } from '../support/debian-vm-image';
import { missingTool } from '../support/nfs-lab';
import { eventually, tempDir } from '../support/temp';
import { waitForExit } from '../support/netlab';
import { VM_MAC, VmLab, vmLabUnavailable } from '../support/vm-lab';
import type { QemuVm } from '../support/qemu-vm';
import { BOOT_FAILED, bootMarks, type BootMark } from '../support/vm-boot-marks';

const skip =
  vmLabUnavailable() ?? debianVmImageUnavailable() ?? missingTool(['dnsmasq', 'ganesha.nfsd', 'rpcbind', 'openssl', 'tar']) ?? false;

const USER = 'refuser';
const PASSWORD = 'reference boot 42';
const EXPORT = '/srv/root';

describe('reference: Debian 12 boots in a VM from dnsmasq + ganesha', { skip, timeout: 15 * 60_000 }, () => {
  let tmp: { dir: string; cleanup(): void };
  let lab: VmLab;
  let vm: QemuVm;

  before(async () => {
    tmp = tempDir('bramble-vmref-');
    const image = await ensureDebianVmImage();
    process.stdout.write(`# vm-boot reference: image ${image.key} ${image.cached ? 'cached' : 'built'} in ${image.ms} ms\n`);
    const root = path.join(tmp.dir, 'root');
    mkdirSync(root);
    execFileSync('tar', ['-x', '--numeric-owner', '--same-owner', '-p', '-f', image.tarball, '-C', root]);
    // A local user for the console login.
    const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: PASSWORD, encoding: 'utf8' }).trim();
    appendFileSync(path.join(root, 'etc', 'passwd'), `${USER}:x:1500:1500:Reference user:/:/bin/bash\n`);
    appendFileSync(path.join(root, 'etc', 'group'), `${USER}:x:1500:\n`);
    appendFileSync(path.join(root, 'etc', 'shadow'), `${USER}:${hash}:20000:0:99999:7:::\n`);

    const tftp = path.join(tmp.dir, 'tftp');
    mkdirSync(tftp);
    const boot = readdirSync(path.join(root, 'boot'));
    const kernel = boot.find((f) => f.startsWith('vmlinuz-'));
    const initrd = boot.find((f) => f.startsWith('initrd.img-'));
    assert.ok(kernel && initrd, `kernel and initrd in /boot: ${boot.join(' ')}`);
    copyFileSync(path.join(root, 'boot', kernel), path.join(tftp, 'vmlinuz'));
    copyFileSync(path.join(root, 'boot', initrd), path.join(tftp, 'initrd.img'));

    lab = await VmLab.create(tmp.dir);
    const server = lab.serverIp;
    writeFileSync(
      path.join(tftp, 'boot.ipxe'),
      [
        '#!ipxe',
        `kernel vmlinuz initrd=initrd.img ip=dhcp root=/dev/nfs nfsroot=${server}:${EXPORT},vers=3,tcp ro console=ttyS0`,
        'initrd initrd.img',
        'boot',
        '',
      ].join('\n'),
    );
    await lab.startRouterAdvertisements();

    // ganesha + rpcbind in the server's private mount namespace (tmpfs /run).
    const conf = path.join(tmp.dir, 'ganesha.conf');
    writeFileSync(
      conf,
      [
        'NFS_CORE_PARAM { Protocols = 3; Mount_Path_Pseudo = true; Enable_NLM = false; Enable_RQUOTA = false; }',
        'NFS_KRB5 { Active_krb5 = false; }',
        `NFSv4 { RecoveryBackend = fs; RecoveryRoot = "${tmp.dir}/recovery"; Graceless = true; }`,
        'EXPORT {',
        '  Export_Id = 1;',
        `  Path = "${root}";`,
        `  Pseudo = ${EXPORT};`,
        '  Protocols = 3;',
        '  Transports = TCP, UDP;',
        '  Access_Type = RO;',
        // As PiServer exports its roots: root on the client is root (its /etc/shadow, nslcd.conf).
        '  Squash = No_Root_Squash;',
        '  SecType = sys;',
        '  FSAL { Name = VFS; }',
        '}',
        '',
      ].join('\n'),
    );
    lab.nfs.spawn('sh', [
      '-c',
      `rpcbind -f -w & exec ganesha.nfsd -F -f ${conf} -L ${tmp.dir}/ganesha.log -p ${tmp.dir}/ganesha.pid -N NIV_EVENT`,
    ]);
    await eventually(
      async () => (await lab.nfs.nfs('pi', 'nfs-ls', [lab.nfs.url(EXPORT, 3)], 5000)).code === 0,
      30_000,
      'ganesha serving the root',
    );

    const dnsmasq = lab.nfs.netlab.spawn('server', 'dnsmasq', [
      '--keep-in-foreground',
      '--log-facility=-',
      '--conf-file=/dev/null',
      '--port=0',
      '--user=root',
      '--interface=eth0',
      '--bind-interfaces',
      `--dhcp-range=${lab.ip(100)},${lab.ip(150)},255.255.255.0,1h`,
      `--dhcp-leasefile=${tmp.dir}/leases`,
      '--dhcp-boot=boot.ipxe',
      '--no-ping',
      '--enable-tftp',
      `--tftp-root=${tftp}`,
      `--pid-file=${tmp.dir}/dnsmasq.pid`,
    ]);
    await waitForExit(dnsmasq, 500);
    assert.equal(dnsmasq.exitCode, null, 'dnsmasq keeps running');
  });

  after(async () => {
    await lab?.destroy();
    tmp?.cleanup();
  });

  it('boots to multi-user and the local user logs in on the serial console', async () => {
    vm = await lab.startVm({ mac: VM_MAC });
    const marks: BootMark[] = [];
    for (const mark of bootMarks) {
      const m = await vm.waitFor(mark.pattern, 240_000 - vm.elapsedMs(), { fromStart: true, failOn: BOOT_FAILED });
      marks.push({ ...mark, atMs: Math.round(m.atMs) });
    }
    const timeline = marks.map((m) => `${m.name} ${(m.atMs! / 1000).toFixed(1)} s`).join(', ');
    const login = await vm.login(USER, PASSWORD, 60_000);
    const out = await vm.run('id; pwd; ls -ld ~', 30_000);
    process.stdout.write(
      `# vm-boot reference: ${timeline}, login prompt ${(login.promptAtMs / 1000).toFixed(1)} s, shell ${(login.shellAtMs / 1000).toFixed(1)} s\n`,
    );
    assert.match(out, new RegExp(`uid=1500\\(${USER}\\) gid=1500\\(${USER}\\)`));
    assert.match(out, /^\/$/m);
    // Times are in order: each mark came after the one before.
    for (let i = 1; i < marks.length; i++) assert.ok(marks[i].atMs! >= marks[i - 1].atMs!, `${marks[i].name} after ${marks[i - 1].name}`);
  });
});
