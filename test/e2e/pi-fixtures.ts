/**
 * What the boot end-to-end tests share: a Pi-OS-like disk image with the boot files of a Pi 3B, 4
 * and 5 (small stand-ins, big enough for several TFTP blocks), its import and conversion over
 * GraphQL, and the Pis to boot.
 */
import { buildDiskImage } from '../support/image-fixtures';
import type { BootLab } from '../support/boot-lab';
import { eventually } from '../support/temp';

/** A deterministic filler of `bytes` bytes. */
function filler(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 255;
  }
  return b;
}

/** Boot files for every model (§3.2 of the protocol notes). */
export function piBootFiles(options: { withoutStart4?: boolean } = {}): Record<string, string | Buffer> {
  const files: Record<string, string | Buffer> = {
    'bootcode.bin': filler(52_000, 1),
    'start.elf': filler(90_000, 2),
    'fixup.dat': filler(7_000, 3),
    'start4.elf': filler(120_000, 4),
    'fixup4.dat': filler(5_400, 5),
    'config.txt': '[all]\narm_64bit=1\nenable_uart=1\n',
    'cmdline.txt': 'console=serial0,115200 console=tty1 root=PARTUUID=abcd-02 rootfstype=ext4 fsck.repair=yes rootwait\n',
    'kernel8.img': filler(200_000, 6),
    'kernel_2712.img': filler(210_000, 7),
    'bcm2710-rpi-3-b.dtb': filler(25_000, 8),
    'bcm2711-rpi-4-b.dtb': filler(52_000, 9),
    'bcm2712-rpi-5-b.dtb': filler(75_000, 10),
    'overlays/vc4-kms-v3d.dtbo': 'fake overlay\n',
  };
  if (options.withoutStart4) delete files['start4.elf'];
  return files;
}

/** Builds, imports and converts an image; resolves with its id once converted. */
export async function importConvertedImage(lab: BootLab, name: string, bootFiles: Record<string, string | Buffer>): Promise<string> {
  const source = buildDiskImage(lab.tmp.dir, { name: name.toLowerCase().replace(/[^a-z0-9]+/g, '-'), bootFiles });
  const started = await lab.ok<{ importImage: { id: string; imageId: string } }>(
    'mutation($name: String!, $source: String!) { importImage(name: $name, source: $source) { id imageId state } }',
    { name, source },
  );
  const imageId = started.importImage.imageId;
  await waitForJob(lab, started.importImage.id);
  const conversion = await lab.ok<{ convertImage: { id: string } }>('mutation($id: String!) { convertImage(id: $id) { id state } }', {
    id: imageId,
  });
  await waitForJob(lab, conversion.convertImage.id);
  return imageId;
}

async function waitForJob(lab: BootLab, id: string): Promise<void> {
  let last: { state: string; error: { code: string; message: string } | null } | null = null;
  await eventually(
    async () => {
      await new Promise((r) => setTimeout(r, 200));
      last = (await lab.ok<{ imageJob: typeof last }>('query($id: String!) { imageJob(id: $id) { state error { code message } } }', { id }))
        .imageJob;
      return last !== null && last.state !== 'running';
    },
    60_000,
    `image job ${id}`,
  );
  if (last!.state !== 'succeeded') throw new Error(`image job ${id} ended ${last!.state}: ${JSON.stringify(last!.error)}`);
}
