/**
 * The exports projection (nfs.exports.ts): who may mount which image version and the homes, as a
 * table of client/image situations, and the paths it refuses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { projectExports, type ExportsInput } from '../../../src/plugins/nfs/nfs.exports';
import { pathProblem, usernameProblem } from '../../../src/plugins/nfs/nfs.paths';
import { client, image } from './records';

const HOMES = '/srv/bramble/homes';
const IMG_A = image('a', ['/srv/images/a/v1', '/srv/images/a/v2']);
const IMG_B = image('b', ['/srv/images/b/v1']);

function run(over: Partial<ExportsInput>): Record<string, string> {
  const { exports } = projectExports({ clients: [], images: [IMG_A, IMG_B], homesPath: HOMES, clientSubnet: null, ...over });
  return Object.fromEntries(exports.map((e) => [e.path, `${e.access} ${e.clients.join(',')}`]));
}

describe('exports projection', () => {
  const cases: Array<[string, Partial<ExportsInput>, Record<string, string>]> = [
    ['no clients: nothing exported', {}, {}],
    [
      'an approved client with an address gets every version of its image and the homes',
      { clients: [client('b8:27:eb:00:00:01', { imageId: 'a', ip: '10.0.0.21' })] },
      { '/srv/images/a/v1': 'ro 10.0.0.21', '/srv/images/a/v2': 'ro 10.0.0.21', [HOMES]: 'rw 10.0.0.21' },
    ],
    ['a pending client gets nothing', { clients: [client('b8:27:eb:00:00:01', { status: 'pending', imageId: 'a', ip: '10.0.0.21' })] }, {}],
    [
      'a rejected client gets nothing',
      { clients: [client('b8:27:eb:00:00:01', { status: 'rejected', imageId: 'a', ip: '10.0.0.21' })] },
      {},
    ],
    ['an approved client without an address gets nothing', { clients: [client('b8:27:eb:00:00:01', { imageId: 'a' })] }, {}],
    [
      'an approved client without an image gets only the homes',
      { clients: [client('b8:27:eb:00:00:01', { ip: '10.0.0.21' })] },
      { [HOMES]: 'rw 10.0.0.21' },
    ],
    [
      're-assigned but not rebooted: keeps the image it booted and gets the new one',
      { clients: [client('b8:27:eb:00:00:01', { imageId: 'b', ip: '10.0.0.21', bootedImage: { imageId: 'a', version: 1 } })] },
      {
        '/srv/images/a/v1': 'ro 10.0.0.21',
        '/srv/images/a/v2': 'ro 10.0.0.21',
        '/srv/images/b/v1': 'ro 10.0.0.21',
        [HOMES]: 'rw 10.0.0.21',
      },
    ],
    [
      'two clients, two images: each sees its own; homes to both, sorted numerically',
      {
        clients: [
          client('b8:27:eb:00:00:01', { imageId: 'a', ip: '10.0.0.100' }),
          client('b8:27:eb:00:00:02', { imageId: 'b', ip: '10.0.0.9' }),
        ],
      },
      {
        '/srv/images/a/v1': 'ro 10.0.0.100',
        '/srv/images/a/v2': 'ro 10.0.0.100',
        '/srv/images/b/v1': 'ro 10.0.0.9',
        [HOMES]: 'rw 10.0.0.9,10.0.0.100',
      },
    ],
    [
      'clientSubnet: images go to the subnet even with no client; homes still only to approved addresses',
      { clientSubnet: '10.0.0.0/24', clients: [client('b8:27:eb:00:00:01', { status: 'pending', ip: '10.0.0.21' })] },
      { '/srv/images/a/v1': 'ro 10.0.0.0/24', '/srv/images/a/v2': 'ro 10.0.0.0/24', '/srv/images/b/v1': 'ro 10.0.0.0/24' },
    ],
    [
      'clientSubnet with an approved client: homes to its address, not the subnet',
      { clientSubnet: '10.0.0.0/24', clients: [client('b8:27:eb:00:00:01', { ip: '10.0.0.21' })] },
      {
        '/srv/images/a/v1': 'ro 10.0.0.0/24',
        '/srv/images/a/v2': 'ro 10.0.0.0/24',
        '/srv/images/b/v1': 'ro 10.0.0.0/24',
        [HOMES]: 'rw 10.0.0.21',
      },
    ],
    ['an address that is not IPv4 is ignored', { clients: [client('b8:27:eb:00:00:01', { imageId: 'a', ip: '10.0.0.1"; }' })] }, {}],
    [
      'a trailing slash is normalised',
      { images: [image('c', ['/srv/images/c/v1/'])], clients: [client('b8:27:eb:00:00:01', { imageId: 'c', ip: '10.0.0.5' })] },
      { '/srv/images/c/v1': 'ro 10.0.0.5', [HOMES]: 'rw 10.0.0.5' },
    ],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => assert.deepEqual(run(input), expected));
  }

  it('two images at one path make one export listing both', () => {
    const { exports } = projectExports({
      clients: [
        client('b8:27:eb:00:00:01', { imageId: 'x', ip: '10.0.0.1' }),
        client('b8:27:eb:00:00:02', { imageId: 'y', ip: '10.0.0.2' }),
      ],
      images: [image('x', ['/srv/same']), image('y', ['/srv/same'])],
      homesPath: HOMES,
      clientSubnet: null,
    });
    const same = exports.find((e) => e.path === '/srv/same')!;
    assert.deepEqual(same.clients, ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(same.images, [
      { imageId: 'x', version: 1 },
      { imageId: 'y', version: 1 },
    ]);
  });

  it('refuses a hostile version path and keeps the others', () => {
    const evil = '/srv/x"; } EXPORT { Path = "/';
    const result = projectExports({
      clients: [client('b8:27:eb:00:00:01', { imageId: 'a', ip: '10.0.0.1' })],
      images: [image('a', ['/srv/images/a/v1', evil])],
      homesPath: HOMES,
      clientSubnet: null,
    });
    assert.deepEqual(
      result.exports.map((e) => e.path),
      ['/srv/images/a/v1', HOMES],
    );
    assert.equal(result.refused.length, 1);
    assert.equal(result.refused[0].path, evil);
    assert.equal(result.refused[0].imageId, 'a');
    assert.match(result.refused[0].reason, /contains "\\""/);
  });

  it('refuses a homes path that is also an image root', () => {
    const result = projectExports({
      clients: [client('b8:27:eb:00:00:01', { imageId: 'a', ip: '10.0.0.1' })],
      images: [image('a', ['/srv/homes'])],
      homesPath: '/srv/homes',
      clientSubnet: null,
    });
    assert.deepEqual(
      result.exports.map((e) => e.kind),
      ['image'],
    );
    assert.deepEqual(result.refused, [{ path: '/srv/homes', reason: 'homesPath is also an image root', imageId: null }]);
  });
});

describe('export paths', () => {
  const refused: Array<[string, RegExp]> = [
    ['', /empty/],
    ['relative/path', /absolute/],
    ['/', /whole file system/],
    ['/srv/a\nb', /control character/],
    ['/srv/a\tb', /control character/],
    ['/srv/a\rb', /control character/],
    ['/srv/\x00', /control character/],
    ['/srv/é', /non-ASCII/],
    ['/srv/a"b', /"\\""/],
    ["/srv/a'b", /"'"/],
    ['/srv/a\\b', /"\\\\"/],
    ['/srv/a{b', /"\{"/],
    ['/srv/a}b', /"\}"/],
    ['/srv/a;b', /";"/],
    ['/srv/a#b', /"#"/],
    ['/srv/*', /"\*"/],
    ['/srv/a(rw)', /"\("/],
    ['/srv/$HOME', /"\$"/],
    ['/srv/../etc', /not a normal path/],
    ['/srv/./x', /not a normal path/],
    ['/srv//x', /not a normal path/],
    [`/${'a'.repeat(1024)}`, /longer than 1024/],
  ];
  for (const [p, reason] of refused) {
    it(`refuses ${JSON.stringify(p.slice(0, 40))}`, () => assert.match(pathProblem(p) ?? 'accepted', reason));
  }
  for (const p of ['/srv/images/a/v1', '/srv/my images/pi os', '/srv/a-b_c.d+e@f:g=h,i', `/${'a'.repeat(1023)}`]) {
    it(`accepts ${JSON.stringify(p.slice(0, 40))}`, () => assert.equal(pathProblem(p), null));
  }
  it('user names: the core rule, nothing that walks out of the homes folder', () => {
    for (const ok of ['alice', 'a.b', '_x', 'j-doe1']) assert.equal(usernameProblem(ok), null, ok);
    for (const bad of ['..', '.', '', 'a/b', '../etc', 'Alice', '-x', 'a\nb', 'x'.repeat(33)])
      assert.notEqual(usernameProblem(bad), null, bad);
  });
});
