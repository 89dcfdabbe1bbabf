/**
 * What a network-booting Debian VM prints on its serial console at each stage, in order, so the
 * VM tests can time each stage from QEMU's start (the console is the only clock the guest shares
 * with the test). Patterns checked against the console of a real boot of the test image.
 */
export interface BootMark {
  name: string;
  pattern: RegExp;
  /** ms since the guest started, once seen. */
  atMs?: number;
}

export const bootMarks: readonly BootMark[] = [
  // SeaBIOS hands over to the NIC's iPXE ROM (its output reaches the serial port through
  // SeaBIOS's serial console: test/support/qemu-vm.ts).
  { name: 'ipxe', pattern: /iPXE initialising devices/ },
  // iPXE's own DHCP finished: "net0: 10.1.2.3/255.255.255.0 gw ..." (the ROM's console is serial).
  { name: 'ipxe-dhcp', pattern: /net0: \d+\.\d+\.\d+\.\d+\// },
  // The iPXE script came over TFTP: "boot.ipxe : 144 bytes [script]".
  { name: 'ipxe-script', pattern: /\.ipxe : \d+ bytes \[script\]/ },
  // The kernel runs (after its and the initrd's TFTP transfers).
  { name: 'kernel', pattern: /Linux version \d/ },
  // The initramfs's DHCP (klibc ipconfig): "IP-Config: eth0 complete (dhcp from 10.1.2.1):".
  { name: 'initramfs-dhcp', pattern: /IP-Config: \S+ complete/ },
  // The NFS root is mounted and systemd runs from it.
  { name: 'root-mounted', pattern: /Welcome to .*Debian/ },
  { name: 'multi-user', pattern: /Reached target .*Multi-User System/ },
];

/**
 * What a boot that will not go on prints: iPXE found no DHCP answer or could not load a file, the
 * BIOS has nothing left to boot, the kernel or the initramfs gave up. A wait for the next mark
 * fails on these at once instead of running into its time bound.
 */
export const BOOT_FAILED =
  /No configuration methods succeeded|No more network devices|No bootable device|Kernel panic|Gave up waiting for root|ALERT! |Could not boot/;
