/**
 * The VM boot lab's pure parts, without a VM: the console marks against a captured console of a
 * real boot of the test image (test/fixtures/vm/debian-netboot-console.txt, from a run of the VM
 * lab: SeaBIOS, iPXE, the kernel, the initramfs, systemd, getty), the image recipe's cache key and
 * mmdebstrap arguments, the initramfs hook's shell syntax, and QEMU's command line.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CARRIER_HOOK, DEBIAN_VM_PACKAGES, mmdebstrapArgs, recipeKey, type DebianVmRecipe } from '../support/debian-vm-image';
import { QemuVm } from '../support/qemu-vm';
import { BOOT_FAILED, bootMarks } from '../support/vm-boot-marks';

const FIXTURE = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'vm', 'debian-netboot-console.txt');

const recipe = (over: Partial<DebianVmRecipe> = {}): DebianVmRecipe => ({
  suite: 'bookworm',
  packages: DEBIAN_VM_PACKAGES,
  files: { '/etc/initramfs-tools/conf.d/bramble-nfs': { content: 'BOOT=nfs\n', mode: 0o644 } },
  sources: '/etc/apt/sources.list.d/debian.sources',
  sourcesContent: 'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n',
  mmdebstrapVersion: 'mmdebstrap 1.3.5',
  ...over,
});

describe('VM boot marks on a real console', () => {
  const console = readFileSync(FIXTURE, 'latin1');

  it('finds every mark, each after the one before', () => {
    let from = 0;
    for (const mark of bootMarks) {
      const m = mark.pattern.exec(console.slice(from));
      assert.ok(m, `${mark.name} (${mark.pattern}) after offset ${from}`);
      from += m.index + m[0].length;
    }
    // The getty prompt comes after the last mark (QemuVm.login waits for it from there).
    assert.match(console.slice(from), / login: /);
  });

  it('a successful boot is not taken for a failed one; the failures iPXE, the BIOS and the kernel print are', () => {
    assert.equal(BOOT_FAILED.exec(console), null);
    for (const line of [
      'Configuring (net0 52:54:00:b7:a0:01)...... No configuration methods succeeded (http://ipxe.org/040ee186)',
      'No more network devices',
      'No bootable device.',
      '[   12.1] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)',
      'Gave up waiting for root file system device.',
      'ALERT!  /dev/nfs does not exist.  Dropping to a shell!',
    ]) {
      assert.match(line, BOOT_FAILED, line);
    }
  });
});

describe('Debian VM image recipe', () => {
  it('has one cache key per content: the same inputs give the same key, any change another', () => {
    const base = recipeKey(recipe());
    assert.match(base, /^[0-9a-f]{16}$/);
    assert.equal(recipeKey(recipe()), base);
    // Package order does not matter; a package, a file, the sources or mmdebstrap's version do.
    assert.equal(recipeKey(recipe({ packages: [...DEBIAN_VM_PACKAGES].reverse() })), base);
    const changed = [
      recipe({ packages: [...DEBIAN_VM_PACKAGES, 'vim'] }),
      recipe({ files: { '/etc/initramfs-tools/conf.d/bramble-nfs': { content: 'BOOT=local\n', mode: 0o644 } } }),
      recipe({ files: { '/etc/initramfs-tools/conf.d/bramble-nfs': { content: 'BOOT=nfs\n', mode: 0o600 } } }),
      recipe({ sourcesContent: 'Types: deb\nURIs: http://other.example/debian\n' }),
      recipe({ mmdebstrapVersion: 'mmdebstrap 1.4.0' }),
      recipe({ suite: 'trixie' }),
    ].map(recipeKey);
    assert.equal(new Set([base, ...changed]).size, changed.length + 1, 'every change gives a new key');
  });

  it("runs mmdebstrap in root mode with every package, the files copied in before the kernel's initramfs is built", () => {
    const args = mmdebstrapArgs(recipe(), "/cache/.building-1/fi'les", '/cache/.building-1/root.tar');
    assert.ok(args.includes('--mode=root'));
    assert.ok(args.includes('--variant=minbase'));
    assert.ok(args.includes('--format=tar'));
    const include = args
      .find((a) => a.startsWith('--include='))!
      .slice('--include='.length)
      .split(',');
    assert.deepEqual(include, [...DEBIAN_VM_PACKAGES]);
    for (const p of [
      'systemd-sysv',
      'linux-image-amd64',
      'initramfs-tools',
      'nfs-common',
      'netbase',
      'nslcd',
      'libnss-ldapd',
      'libpam-ldapd',
    ])
      assert.ok(include.includes(p), p);
    // The hook quotes the folder for the shell (a quote in the path stays a quote).
    assert.ok(args.includes(`--essential-hook=cp -a '/cache/.building-1/fi'\\''les'/. "$1"/`));
    assert.deepEqual(args.slice(-3), ['bookworm', '/cache/.building-1/root.tar', '/etc/apt/sources.list.d/debian.sources']);
  });

  it('leaves out the module trees of hardware the VM lacks, never what an NFS-root boot on virtio needs', () => {
    const args = mmdebstrapArgs(recipe(), '/f', '/o.tar');
    const patterns = args
      .filter((a) => a.startsWith('--dpkgopt=path-exclude='))
      .map((a) => a.slice('--dpkgopt=path-exclude='.length))
      // dpkg matches with fnmatch(3) without FNM_PATHNAME: `*` also matches `/`.
      .map((glob) => new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`));
    const excluded = (file: string) => patterns.some((re) => re.test(file));
    for (const root of ['/lib', '/usr/lib']) {
      for (const gone of [
        'drivers/gpu/drm/amd/amdgpu/amdgpu.ko',
        'drivers/net/ethernet/intel/e1000/e1000.ko',
        'drivers/net/wireless/intel/iwlwifi/iwlwifi.ko',
        'sound/core/snd.ko',
        'lib/test_bpf.ko',
      ])
        assert.ok(excluded(`${root}/modules/6.1.0-56-amd64/kernel/${gone}`), gone);
      for (const kept of [
        'drivers/net/virtio_net.ko',
        'net/core/failover.ko',
        'drivers/net/net_failover.ko',
        'drivers/virtio/virtio_pci.ko',
        'fs/nfs/nfs.ko',
        'fs/nfsv3.ko',
        'net/sunrpc/sunrpc.ko',
        'fs/lockd/lockd.ko',
      ])
        assert.ok(!excluded(`${root}/modules/6.1.0-56-amd64/kernel/${kept}`), kept);
      assert.ok(!excluded(`${root}/modules/6.1.0-56-amd64/modules.dep`));
    }
    assert.ok(excluded('/usr/share/man/man1/curl.1.gz'));
    // Unpacked without fsync: a build that dies is thrown away whole.
    assert.ok(args.includes('--dpkgopt=force-unsafe-io'));
  });

  it('the initramfs hook is valid sh and answers prereqs with nothing', () => {
    execFileSync('sh', ['-n', '-c', CARRIER_HOOK]);
    assert.equal(execFileSync('sh', ['-c', CARRIER_HOOK, 'hook', 'prereqs'], { encoding: 'utf8' }).trim(), '');
  });
});

describe('QEMU command line', () => {
  it('is the one docs/test-lab.md found to work: TCG, q35, one vCPU, no default devices, virtio-net on the tap, serial on the socket', () => {
    const args = QemuVm.args({ tap: 'vmtap1', mac: '52:54:00:b7:a0:01' }, '/tmp/x/console.sock').join(' ');
    assert.match(args, /-accel tcg -M q35 -smp 1 -m 1024 -nodefaults/);
    assert.match(args, /-boot order=n/);
    assert.match(args, /-no-reboot/);
    assert.match(args, /-netdev tap,id=n0,ifname=vmtap1,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=52:54:00:b7:a0:01/);
    assert.match(args, /-fw_cfg name=etc\/sercon-port,file=\/tmp\/x\/sercon-port/);
    assert.match(args, /-chardev socket,id=s0,path=\/tmp\/x\/console\.sock,server=on,wait=on -serial chardev:s0/);
  });
});
