/**
 * Which image version a boot gets. A Pi's boot is a few dozen TFTP requests seconds apart
 * (firmware, config.txt, kernel, device trees, cmdline.txt), then the kernel mounts the NFS root
 * that cmdline.txt names. All of them must come from one version: the one active at the boot's
 * first request. Activating a new version mid-boot would otherwise mix one version's firmware
 * with another's kernel, and the cmdline.txt names that version's tree as the NFS root, so the Pi
 * keeps running it until it reboots (the NFS plugin keeps every version exported).
 *
 * A pin lasts while the client's requests keep coming (each one renews it); a gap longer than
 * PIN_IDLE_MS means a new boot, which gets the version active then. A pin to a version that was
 * deleted, or to another image (the client was re-assigned), is replaced.
 */
import type { ImageRecord } from '../../core/plugin-api';

/** A boot's TFTP requests come seconds apart; after this long without one, the next starts a new boot. */
export const PIN_IDLE_MS = 120_000;
/** Past this many pins, expired ones are dropped. */
export const MAX_PINS = 10_000;

export interface VersionPin {
  imageId: string;
  version: number;
  lastAt: number;
}

/**
 * The image as this request must see it (the pinned version's paths), and whether this request
 * started a new pin (a new boot: worth reporting once). Updates `pins`.
 */
export function pinImageVersion(
  pins: Map<string, VersionPin>,
  mac: string,
  image: ImageRecord,
  now: number,
): { image: ImageRecord; newPin: boolean } {
  const pin = pins.get(mac);
  if (pin && pin.imageId === image.id && now - pin.lastAt <= PIN_IDLE_MS) {
    const kept = image.versions.find((v) => v.version === pin.version);
    if (kept) {
      pin.lastAt = now;
      if (kept.version === image.version) return { image, newPin: false };
      return { image: { ...image, version: kept.version, path: kept.path, bootPath: kept.bootPath }, newPin: false };
    }
  }
  pins.set(mac, { imageId: image.id, version: image.version, lastAt: now });
  if (pins.size > MAX_PINS) {
    for (const [key, p] of pins) if (now - p.lastAt > PIN_IDLE_MS) pins.delete(key);
  }
  return { image, newPin: true };
}
