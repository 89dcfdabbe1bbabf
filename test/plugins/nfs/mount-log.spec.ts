/**
 * Root mounts from ganesha's log (nfs.mount-log.ts): the MNT line pairs as ganesha 4.3 writes them
 * (lines copied from a real run, addresses and paths changed), threads interleaved, a refused mount,
 * a pair split between two reads, and the boot fact each mount makes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NfsExport } from '../../../src/plugins/nfs/nfs.exports';
import { parseMountLog, rootMountFact } from '../../../src/plugins/nfs/nfs.mount-log';
import { client } from './records';

const P = '26/11/2026 15:31:02 : epoch 6b085135 : vm : nfs-ganesha-41220';
const call = (thread: string, path: string) => `${P}[${thread}] mnt_Mnt :NFS3 :DEBUG :REQUEST PROCESSING: Calling MNT_MNT path=${path}`;
const granted = (thread: string, ip: string) =>
  `${P}[${thread}] mnt_Mnt :NFS3 :DEBUG :MOUNT: Entry supports 1 different flavours handle=0x4300000112443bccae55794ddc1601d2c020009fa945f200 for client ::ffff:${ip}`;
const noise = [
  `${P}[svc_2] mnt_Null :NFS3 :DEBUG :REQUEST PROCESSING: Calling MNT_NULL`,
  `${P}[svc_3] nfs4_op_setclientid :CLIENT ID :DEBUG :SETCLIENTID Client addr=::ffff:10.0.0.99 id=(27:Libnfs pid:1 1) verf=0x1 callback={program=0 r_addr=0.0.0.0.0.0 r_netid=tcp} ident=1`,
  `${P}[main] nfs_start :NFS STARTUP :EVENT :             NFS SERVER INITIALIZED`,
];

describe('ganesha mount log', () => {
  it('pairs each MNT call with its grant on the same thread, threads interleaved', () => {
    const text = [
      noise[0],
      call('svc_5', '/srv/images/a/v1'),
      call('svc_7', '/srv/images/my os/v2/etc'),
      noise[1],
      granted('svc_7', '10.0.0.22'),
      granted('svc_5', '10.0.0.21'),
      noise[2],
    ].join('\n');
    assert.deepEqual(parseMountLog(text, new Map()), [
      { ip: '10.0.0.22', path: '/srv/images/my os/v2/etc' },
      { ip: '10.0.0.21', path: '/srv/images/a/v1' },
    ]);
  });

  it('a refused mount (no grant) reports nothing, and its call does not pair with a later grant elsewhere', () => {
    const pending = new Map<string, string>();
    assert.deepEqual(parseMountLog(call('svc_5', '/srv/secret'), pending), []);
    assert.deepEqual(parseMountLog(granted('svc_9', '10.0.0.66'), pending), []);
  });

  it('a pair split between two reads is joined through `pending`', () => {
    const pending = new Map<string, string>();
    assert.deepEqual(parseMountLog(`${call('svc_1', '/srv/images/a/v1')}\n`, pending), []);
    assert.deepEqual(parseMountLog(`${granted('svc_1', '10.0.0.21')}\n`, pending), [{ ip: '10.0.0.21', path: '/srv/images/a/v1' }]);
    assert.equal(pending.size, 0);
  });

  it('a grant for a non-IPv4 client is ignored', () => {
    const text = [
      call('svc_1', '/srv/x'),
      `${P}[svc_1] mnt_Mnt :NFS3 :DEBUG :MOUNT: Entry supports 1 different flavours handle=0x1 for client fe80::1`,
    ].join('\n');
    assert.deepEqual(parseMountLog(text, new Map()), []);
  });
});

describe('root mount fact', () => {
  const exports: NfsExport[] = [
    { path: '/srv/images/a/v1', access: 'ro', clients: ['10.0.0.21'], kind: 'image', images: [{ imageId: 'a', version: 1 }] },
    {
      path: '/srv/shared',
      access: 'ro',
      clients: ['10.0.0.21'],
      kind: 'image',
      images: [
        { imageId: 'x', version: 3 },
        { imageId: 'b', version: 2 },
      ],
    },
    { path: '/srv/homes', access: 'rw', clients: ['10.0.0.21'], kind: 'homes', images: [] },
  ];
  const pi = client('b8:27:eb:00:00:21', { ip: '10.0.0.21', imageId: 'b' });
  const byIp = (ip: string) => (ip === '10.0.0.21' ? pi : null);

  const cases: Array<[string, string, string, Record<string, unknown> | null]> = [
    ['the export itself', '10.0.0.21', '/srv/images/a/v1', { imageId: 'a', imageVersion: 1, export: '/srv/images/a/v1', nfsVersion: 3 }],
    [
      'a folder inside it',
      '10.0.0.21',
      '/srv/images/a/v1/etc',
      { imageId: 'a', imageVersion: 1, export: '/srv/images/a/v1', nfsVersion: 3 },
    ],
    ['a trailing slash', '10.0.0.21', '/srv/images/a/v1/', { imageId: 'a', imageVersion: 1, export: '/srv/images/a/v1', nfsVersion: 3 }],
    [
      'a shared path: the client’s own image',
      '10.0.0.21',
      '/srv/shared',
      { imageId: 'b', imageVersion: 2, export: '/srv/shared', nfsVersion: 3 },
    ],
    ['a sibling that only starts like an export', '10.0.0.21', '/srv/images/a/v10', null],
    ['the homes', '10.0.0.21', '/srv/homes', null],
    ['an unknown address', '10.0.0.66', '/srv/images/a/v1', null],
  ];
  for (const [name, ip, path, detail] of cases) {
    it(name, () => {
      const fact = rootMountFact({ ip, path }, exports, byIp);
      assert.deepEqual(fact, detail === null ? null : { mac: pi.mac, stage: 'nfs.root-mounted', ip, detail });
    });
  }
});
