/**
 * The read-request decision (tftp.decider.ts), as a table:
 *   given  clients and images in small in-memory views (plain records),
 *   when   a file name from a source address,
 *   then   serve (client, image, path, generated, prefixed) or refuse (code, reason, message, client).
 * Sources: docs/pi-netboot-protocol.md §1.3, §3.1, §3.2, §5.1.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClientRecord, ImageRecord } from '../../../src/core/plugin-api';
import { decideRequest, type RequestDecision, type RequestInput } from '../../../src/plugins/tftp/tftp.decider';

const T = '2025-03-01T12:00:00.000Z';

function client(mac: string, over: Partial<ClientRecord> = {}): ClientRecord {
  return {
    mac,
    status: 'approved',
    name: null,
    imageId: 'bookworm',
    bootedImage: null,
    serial: null,
    model: null,
    ip: null,
    configTxt: '',
    cmdlineArgs: '',
    preRegistered: false,
    detectedAt: T,
    lastSeenAt: T,
    approvedAt: T,
    updatedAt: T,
    ...over,
  };
}

function image(id: string): ImageRecord {
  const path = `/srv/images/${id}`;
  const bootPath = `${path}/boot/firmware`;
  const v1 = { version: 1, parentVersion: null, reason: 'registered' as const, path, bootPath, createdAt: T };
  return {
    id,
    name: id,
    path,
    bootPath,
    version: 1,
    versions: [v1],
    managed: false,
    architecture: null,
    osRelease: null,
    converted: false,
    registeredAt: T,
  };
}

/** The three look-ups the decider uses, over plain records, indexed as the core's views are. */
type ClientLookups = RequestInput['clients'];
type ImageLookups = RequestInput['images'];

class FakeClients implements ClientLookups {
  private readonly byMac = new Map<string, ClientRecord>();
  constructor(records: ClientRecord[]) {
    for (const r of records) this.byMac.set(r.mac, r);
  }
  get(mac: string): ClientRecord | null {
    return this.byMac.get(mac) ?? null;
  }
  byIp(ip: string): ClientRecord | null {
    return [...this.byMac.values()].find((c) => c.ip === ip) ?? null;
  }
  bySerial(serial: string): ClientRecord | null {
    return [...this.byMac.values()].find((c) => c.serial === serial.toLowerCase()) ?? null;
  }
}

class FakeImages implements ImageLookups {
  private readonly byId: Map<string, ImageRecord>;
  constructor(records: ImageRecord[]) {
    this.byId = new Map(records.map((r) => [r.id, r]));
  }
  get(id: string): ImageRecord | null {
    return this.byId.get(id) ?? null;
  }
}

// The fleet of these tests.
const BOOKWORM = image('bookworm');
const LAB = image('lab');
/** A Pi 4 whose serial DHCP option 97 gave. */
const PI4 = client('dc:a6:32:01:36:c2', { serial: '9ffefdef', ip: '10.0.0.40', model: 'RPi4' });
/** A Pi 3B: serial unknown (its ROM sends a constant option 97, §1.3); serial a2ef5644 → b8:27:eb:ef:56:44. */
const PI3 = client('b8:27:eb:ef:56:44', { ip: '10.0.0.30', imageId: 'lab' });
/** A Pi 3 with a known serial that is not the one its MAC would suggest. */
const PI3_OTHER_SERIAL = client('b8:27:eb:11:22:33', { serial: 'deadbeef', ip: '10.0.0.31' });
/** A Pi 5 that uses TFTP_PREFIX=2 (MAC prefix). */
const PI5 = client('2c:cf:67:00:00:05', { serial: '765fc593', ip: '10.0.0.50', model: 'RPi5' });
const PENDING = client('dc:a6:32:00:00:01', { status: 'pending', ip: '10.0.0.61', serial: '11111111', imageId: null, approvedAt: null });
const REJECTED = client('dc:a6:32:00:00:02', { status: 'rejected', ip: '10.0.0.62', approvedAt: null });
const NO_IMAGE = client('dc:a6:32:00:00:03', { ip: '10.0.0.63', imageId: null });
const IMAGE_GONE = client('dc:a6:32:00:00:04', { ip: '10.0.0.64', imageId: 'deleted' });
/** The address the Pi 4 used before: the IP map still names the pending client for it. */
const STALE_IP = '10.0.0.61';
const UNKNOWN_IP = '10.0.0.99';

const clients = new FakeClients([PI4, PI3, PI3_OTHER_SERIAL, PI5, PENDING, REJECTED, NO_IMAGE, IMAGE_GONE]);
const images = new FakeImages([BOOKWORM, LAB]);

function decide(filename: string, sourceIp: string): RequestDecision {
  return decideRequest({ filename, sourceIp, clients, images });
}

type Serve = Omit<Extract<RequestDecision, { kind: 'serve' }>, 'kind'>;
function serve(c: ClientRecord, img: ImageRecord, relPath: string, generated: Serve['generated'], prefixed: boolean): RequestDecision {
  return { kind: 'serve', client: c, image: img, relPath, generated, source: 'image', prefixed };
}

const ROWS: Array<{ name: string; filename: string; ip: string; then: RequestDecision }> = [
  // By source IP, no prefix.
  { name: 'Pi 4 by IP, config.txt', filename: 'config.txt', ip: PI4.ip!, then: serve(PI4, BOOKWORM, 'config.txt', 'config', false) },
  { name: 'Pi 4 by IP, cmdline.txt', filename: 'cmdline.txt', ip: PI4.ip!, then: serve(PI4, BOOKWORM, 'cmdline.txt', 'cmdline', false) },
  { name: 'Pi 4 by IP, kernel', filename: 'kernel8.img', ip: PI4.ip!, then: serve(PI4, BOOKWORM, 'kernel8.img', null, false) },
  {
    name: 'overlays/x.dtbo, no prefix: the whole path',
    filename: 'overlays/x.dtbo',
    ip: PI4.ip!,
    then: serve(PI4, BOOKWORM, 'overlays/x.dtbo', null, false),
  },
  {
    name: 'case matters: CMDLINE.TXT is a plain file',
    filename: 'CMDLINE.TXT',
    ip: PI4.ip!,
    then: serve(PI4, BOOKWORM, 'CMDLINE.TXT', null, false),
  },
  {
    name: 'config.txt in a subfolder is not generated',
    filename: 'overlays/config.txt',
    ip: PI4.ip!,
    then: serve(PI4, BOOKWORM, 'overlays/config.txt', null, false),
  },
  // Serial prefix.
  {
    name: 'serial prefix of a Pi 4 (bySerial)',
    filename: '9ffefdef/start4.elf',
    ip: PI4.ip!,
    then: serve(PI4, BOOKWORM, 'start4.elf', null, true),
  },
  {
    name: 'serial prefix in upper case',
    filename: '9FFEFDEF/cmdline.txt',
    ip: PI4.ip!,
    then: serve(PI4, BOOKWORM, 'cmdline.txt', 'cmdline', true),
  },
  {
    name: 'serial prefix of a Pi 3: b8:27:eb + low three bytes',
    filename: 'a2ef5644/start.elf',
    ip: UNKNOWN_IP,
    then: serve(PI3, LAB, 'start.elf', null, true),
  },
  {
    name: 'serial prefix: a Pi 3 MAC match with a different known serial is not it',
    filename: 'ee112233/start.elf',
    ip: UNKNOWN_IP,
    then: { kind: 'refuse', code: 2, reason: 'unknown-client', message: 'Unknown client', client: null },
  },
  {
    name: 'serial prefix of a known Pi while the IP names another: the prefix wins',
    filename: '9ffefdef/config.txt',
    ip: STALE_IP,
    then: serve(PI4, BOOKWORM, 'config.txt', 'config', true),
  },
  {
    name: 'unknown serial prefix, known IP: by IP, prefix stripped',
    filename: '01234567/config.txt',
    ip: PI4.ip!,
    then: serve(PI4, BOOKWORM, 'config.txt', 'config', true),
  },
  {
    name: 'unknown serial prefix, unknown IP',
    filename: '01234567/start4.elf',
    ip: UNKNOWN_IP,
    then: { kind: 'refuse', code: 2, reason: 'unknown-client', message: 'Unknown client', client: null },
  },
  {
    name: 'serial prefix with a subfolder',
    filename: '765fc593/overlays/vc4-kms-v3d-pi5.dtbo',
    ip: UNKNOWN_IP,
    then: serve(PI5, BOOKWORM, 'overlays/vc4-kms-v3d-pi5.dtbo', null, true),
  },
  // MAC prefix.
  {
    name: 'MAC prefix of a known Pi 5',
    filename: '2c-cf-67-00-00-05/config.txt',
    ip: UNKNOWN_IP,
    then: serve(PI5, BOOKWORM, 'config.txt', 'config', true),
  },
  {
    name: 'MAC prefix naming a known client while the IP names another',
    filename: '2C-CF-67-00-00-05/kernel_2712.img',
    ip: PI4.ip!,
    then: serve(PI5, BOOKWORM, 'kernel_2712.img', null, true),
  },
  {
    name: 'unknown MAC prefix, known IP',
    filename: 'dc-a6-32-ff-ff-ff/cmdline.txt',
    ip: PI3.ip!,
    then: serve(PI3, LAB, 'cmdline.txt', 'cmdline', true),
  },
  // Other prefix: the whole path.
  {
    name: 'TFTP_PREFIX_STR prefix, known IP: the whole path',
    filename: 'tftp_test/start4.elf',
    ip: PI4.ip!,
    then: serve(PI4, BOOKWORM, 'tftp_test/start4.elf', null, false),
  },
  {
    name: 'other prefix: cmdline.txt under it is not generated',
    filename: 'tftp_test/cmdline.txt',
    ip: PI4.ip!,
    then: serve(PI4, BOOKWORM, 'tftp_test/cmdline.txt', null, false),
  },
  {
    name: 'other prefix, unknown IP',
    filename: 'tftp_test/start4.elf',
    ip: UNKNOWN_IP,
    then: { kind: 'refuse', code: 2, reason: 'unknown-client', message: 'Unknown client', client: null },
  },
  // Status and image.
  {
    name: 'unknown IP, no prefix',
    filename: 'config.txt',
    ip: UNKNOWN_IP,
    then: { kind: 'refuse', code: 2, reason: 'unknown-client', message: 'Unknown client', client: null },
  },
  {
    name: 'pending client',
    filename: 'config.txt',
    ip: PENDING.ip!,
    then: { kind: 'refuse', code: 2, reason: 'not-approved', message: 'Client not approved', client: PENDING },
  },
  {
    name: 'pending client by its serial prefix',
    filename: '11111111/start4.elf',
    ip: UNKNOWN_IP,
    then: { kind: 'refuse', code: 2, reason: 'not-approved', message: 'Client not approved', client: PENDING },
  },
  {
    name: 'rejected client',
    filename: 'config.txt',
    ip: REJECTED.ip!,
    then: { kind: 'refuse', code: 2, reason: 'not-approved', message: 'Client not approved', client: REJECTED },
  },
  {
    name: 'approved, no image assigned',
    filename: 'config.txt',
    ip: NO_IMAGE.ip!,
    then: { kind: 'refuse', code: 2, reason: 'no-image', message: 'No image assigned', client: NO_IMAGE },
  },
  {
    name: 'approved, image missing',
    filename: 'config.txt',
    ip: IMAGE_GONE.ip!,
    then: { kind: 'refuse', code: 2, reason: 'no-image', message: 'No image assigned', client: IMAGE_GONE },
  },
  // Hostile names: refused before anything else, attributed by IP for the logs.
  {
    name: 'dot-dot from a known Pi',
    filename: '../etc/passwd',
    ip: PI4.ip!,
    then: { kind: 'refuse', code: 2, reason: 'hostile-name:dot-dot', message: 'Illegal file name', client: PI4 },
  },
  {
    name: 'dot-dot after a serial prefix',
    filename: '9ffefdef/../../etc/shadow',
    ip: PI4.ip!,
    then: { kind: 'refuse', code: 2, reason: 'hostile-name:dot-dot', message: 'Illegal file name', client: PI4 },
  },
  {
    name: 'absolute name from an unknown address',
    filename: '/etc/passwd',
    ip: UNKNOWN_IP,
    then: { kind: 'refuse', code: 2, reason: 'hostile-name:absolute', message: 'Illegal file name', client: null },
  },
  {
    name: 'control characters',
    filename: 'config.txt\x1b[2J',
    ip: PI4.ip!,
    then: { kind: 'refuse', code: 2, reason: 'hostile-name:control-char', message: 'Illegal file name', client: PI4 },
  },
  {
    name: 'empty name',
    filename: '',
    ip: PI4.ip!,
    then: { kind: 'refuse', code: 2, reason: 'hostile-name:empty', message: 'Illegal file name', client: PI4 },
  },
];

describe('decideRequest', () => {
  for (const row of ROWS) {
    it(row.name, () => {
      assert.deepEqual(decide(row.filename, row.ip), row.then);
    });
  }

  it('every refusal message is short printable ASCII', () => {
    for (const row of ROWS) {
      const d = decide(row.filename, row.ip);
      if (d.kind === 'refuse') assert.match(d.message, /^[\x20-\x7e]{1,40}$/);
    }
  });
});

describe('decideRequest: lab PCs (model pc-bios / pc-uefi)', () => {
  const BIOS_PC = client('00:1b:21:0a:00:01', { model: 'pc-bios', ip: '10.0.0.80' });
  const UEFI_PC = client('00:1b:21:0a:00:02', { model: 'pc-uefi', ip: '10.0.0.81' });
  const PENDING_PC = client('00:1b:21:0a:00:03', { model: 'pc-bios', status: 'pending', ip: '10.0.0.82', approvedAt: null });
  const NO_IMAGE_PC = client('00:1b:21:0a:00:04', { model: 'pc-bios', ip: '10.0.0.83', imageId: null });
  /** Pre-registered by the admin, approved, its model not known yet. */
  const NO_MODEL = client('00:1b:21:0a:00:05', { ip: '10.0.0.84' });
  const pcs = new FakeClients([PI4, BIOS_PC, UEFI_PC, PENDING_PC, NO_IMAGE_PC, NO_MODEL]);
  const pcDecide = (filename: string, ip: string): RequestDecision => decideRequest({ filename, sourceIp: ip, clients: pcs, images });
  const pcServe = (c: ClientRecord, relPath: string, generated: Serve['generated'], source: Serve['source'], prefixed: boolean) => ({
    kind: 'serve' as const,
    client: c,
    image: BOOKWORM,
    relPath,
    generated,
    source,
    prefixed,
  });
  const rows: Array<[string, string, string, RequestDecision]> = [
    [
      'BIOS PC, MAC prefix, undionly.kpxe → ipxeDir',
      '00-1b-21-0a-00-01/undionly.kpxe',
      UNKNOWN_IP,
      pcServe(BIOS_PC, 'undionly.kpxe', null, 'ipxe', true),
    ],
    ['UEFI PC, MAC prefix, ipxe.efi → ipxeDir', '00-1b-21-0a-00-02/ipxe.efi', UNKNOWN_IP, pcServe(UEFI_PC, 'ipxe.efi', null, 'ipxe', true)],
    ['by IP, no prefix: ipxe.efi → ipxeDir', 'ipxe.efi', BIOS_PC.ip!, pcServe(BIOS_PC, 'ipxe.efi', null, 'ipxe', false)],
    [
      'bramble.ipxe → the generated script',
      '00-1b-21-0a-00-01/bramble.ipxe',
      UNKNOWN_IP,
      pcServe(BIOS_PC, 'bramble.ipxe', 'ipxe-script', 'image', true),
    ],
    [
      'the kernel the script names → the image',
      '00-1b-21-0a-00-01/vmlinuz-6.1.0-42-amd64',
      UNKNOWN_IP,
      pcServe(BIOS_PC, 'vmlinuz-6.1.0-42-amd64', null, 'image', true),
    ],
    [
      'a PC has no generated cmdline.txt: the image file',
      '00-1b-21-0a-00-01/cmdline.txt',
      UNKNOWN_IP,
      pcServe(BIOS_PC, 'cmdline.txt', null, 'image', true),
    ],
    [
      'an iPXE name in a subfolder is the image file',
      '00-1b-21-0a-00-01/x/undionly.kpxe',
      UNKNOWN_IP,
      pcServe(BIOS_PC, 'x/undionly.kpxe', null, 'image', true),
    ],
    [
      'no model yet, undionly.kpxe → ipxeDir (a pre-registered PC)',
      '00-1b-21-0a-00-05/undionly.kpxe',
      UNKNOWN_IP,
      pcServe(NO_MODEL, 'undionly.kpxe', null, 'ipxe', true),
    ],
    [
      'no model yet, bramble.ipxe → the script',
      'bramble.ipxe',
      NO_MODEL.ip!,
      pcServe(NO_MODEL, 'bramble.ipxe', 'ipxe-script', 'image', false),
    ],
    [
      'no model yet, cmdline.txt → still generated as for a Pi',
      'cmdline.txt',
      NO_MODEL.ip!,
      pcServe(NO_MODEL, 'cmdline.txt', 'cmdline', 'image', false),
    ],
    [
      'a Pi asking undionly.kpxe gets the image file of that name',
      'undionly.kpxe',
      PI4.ip!,
      serve(PI4, BOOKWORM, 'undionly.kpxe', null, false),
    ],
    ['a Pi asking bramble.ipxe: the image file, not a script', 'bramble.ipxe', PI4.ip!, serve(PI4, BOOKWORM, 'bramble.ipxe', null, false)],
    [
      'a pending PC: refused',
      '00-1b-21-0a-00-03/undionly.kpxe',
      UNKNOWN_IP,
      { kind: 'refuse', code: 2, reason: 'not-approved', message: 'Client not approved', client: PENDING_PC },
    ],
    [
      'an approved PC without an image: refused',
      '00-1b-21-0a-00-04/bramble.ipxe',
      UNKNOWN_IP,
      { kind: 'refuse', code: 2, reason: 'no-image', message: 'No image assigned', client: NO_IMAGE_PC },
    ],
    [
      'an unknown MAC prefix from an unknown address: refused',
      '00-1b-21-0a-00-09/undionly.kpxe',
      UNKNOWN_IP,
      { kind: 'refuse', code: 2, reason: 'unknown-client', message: 'Unknown client', client: null },
    ],
    [
      'climbing out by the iPXE name: refused as hostile',
      '00-1b-21-0a-00-01/../undionly.kpxe',
      UNKNOWN_IP,
      { kind: 'refuse', code: 2, reason: 'hostile-name:dot-dot', message: 'Illegal file name', client: null },
    ],
  ];
  for (const [name, filename, ip, then] of rows) {
    it(name, () => assert.deepEqual(pcDecide(filename, ip), then));
  }
});
