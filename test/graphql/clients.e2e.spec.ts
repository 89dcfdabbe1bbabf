/** Clients, images and settings through the GraphQL API (real HTTP, real sqlite store). */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/app-harness';
import { tempDir } from '../support/temp';

const CLIENT_FIELDS =
  'mac status name imageId serial model ip configTxt cmdlineArgs preRegistered detectedAt lastSeenAt approvedAt updatedAt';

/** A root tree that passes image validation: boot/, etc/, usr/. */
function makeImageTree(root: string, name: string): string {
  const dir = path.join(root, name);
  for (const sub of ['boot', 'etc', 'usr']) mkdirSync(path.join(dir, sub), { recursive: true });
  return dir;
}

describe('GraphQL API: clients, images, settings', () => {
  let h: Harness;
  let images: { dir: string; cleanup(): void };
  before(async () => {
    h = await startHarness();
    images = tempDir('bramble-gql-images-');
  });
  after(async () => {
    await h.close();
    images.cleanup();
  });

  it('registerImage registers a tree with boot/, etc/ and usr/; images and image read it back', async () => {
    const treePath = makeImageTree(images.dir, 'bookworm');
    const res = await h.ok(
      'mutation ($name: String!, $path: String!) { registerImage(name: $name, path: $path) { id name path bootPath registeredAt clients { mac } } }',
      {
        name: 'Raspberry Pi OS (Bookworm)',
        path: treePath,
      },
    );
    assert.equal(res.registerImage.id, 'raspberry-pi-os-bookworm');
    assert.equal(res.registerImage.path, treePath);
    assert.equal(res.registerImage.bootPath, path.join(treePath, 'boot'));
    assert.deepEqual(res.registerImage.clients, []);
    assert.ok(!Number.isNaN(Date.parse(res.registerImage.registeredAt)));

    const list = await h.ok('{ images { id name } image(id: "raspberry-pi-os-bookworm") { name } missing: image(id: "nope") { id } }');
    assert.deepEqual(list.images, [{ id: 'raspberry-pi-os-bookworm', name: 'Raspberry Pi OS (Bookworm)' }]);
    assert.equal(list.image.name, 'Raspberry Pi OS (Bookworm)');
    assert.equal(list.missing, null);
  });

  it('registerImage refuses a folder that is not a root tree (IMAGE_INVALID on path) and a taken name (IMAGE_EXISTS)', async () => {
    const notATree = path.join(images.dir, 'empty');
    mkdirSync(notATree);
    const invalid = await h.gql('mutation ($p: String!) { registerImage(name: "empty", path: $p) { id } }', { p: notATree });
    assert.equal(invalid.errors?.[0]?.extensions?.code, 'IMAGE_INVALID');
    assert.equal(invalid.errors?.[0]?.extensions?.field, 'path');
    assert.equal(invalid.data, null);
    const taken = await h.gql('mutation ($p: String!) { registerImage(name: "Raspberry Pi OS (Bookworm)", path: $p) { id } }', {
      p: makeImageTree(images.dir, 'again'),
    });
    assert.equal(taken.errors?.[0]?.extensions?.code, 'IMAGE_EXISTS');
  });

  it('approveClient pre-registers a MAC in any notation, with a name and an image', async () => {
    const res = await h.ok(
      `mutation { approveClient(mac: "DC-A6-32-01-02-03", name: "desk-1", imageId: "raspberry-pi-os-bookworm") { ${CLIENT_FIELDS} image { id name } } }`,
    );
    const c = res.approveClient;
    assert.equal(c.mac, 'dc:a6:32:01:02:03');
    assert.equal(c.status, 'APPROVED');
    assert.equal(c.name, 'desk-1');
    assert.equal(c.imageId, 'raspberry-pi-os-bookworm');
    assert.deepEqual(c.image, { id: 'raspberry-pi-os-bookworm', name: 'Raspberry Pi OS (Bookworm)' });
    assert.equal(c.preRegistered, true);
    assert.ok(c.approvedAt);
  });

  it('approveClient with an unknown image: IMAGE_NOT_FOUND; with a bad MAC: VALIDATION on mac', async () => {
    const unknownImage = await h.gql('mutation { approveClient(mac: "dc:a6:32:01:02:04", imageId: "nope") { mac } }');
    assert.equal(unknownImage.errors?.[0]?.extensions?.code, 'IMAGE_NOT_FOUND');
    const badMac = await h.gql('mutation { approveClient(mac: "dc:a6:32:01:02") { mac } }');
    assert.equal(badMac.errors?.[0]?.extensions?.code, 'VALIDATION');
    assert.equal(badMac.errors?.[0]?.extensions?.field, 'mac');
    assert.equal(badMac.data, null);
  });

  it('clients and client(mac) read the read models; status filters', async () => {
    await h.ok('mutation { approveClient(mac: "dc:a6:32:01:02:05") { mac } }');
    await h.ok('mutation { rejectClient(mac: "dc:a6:32:01:02:05") { mac } }');
    const res = await h.ok(
      '{ all: clients { mac status } approved: clients(status: APPROVED) { mac } rejected: clients(status: REJECTED) { mac } pending: clients(status: PENDING) { mac } one: client(mac: "dca6.3201.0203") { name } none: client(mac: "dc:a6:32:ff:ff:ff") { mac } }',
    );
    assert.deepEqual(res.all, [
      { mac: 'dc:a6:32:01:02:03', status: 'APPROVED' },
      { mac: 'dc:a6:32:01:02:05', status: 'REJECTED' },
    ]);
    assert.deepEqual(res.approved, [{ mac: 'dc:a6:32:01:02:03' }]);
    assert.deepEqual(res.rejected, [{ mac: 'dc:a6:32:01:02:05' }]);
    assert.deepEqual(res.pending, []);
    assert.equal(res.one.name, 'desk-1');
    assert.equal(res.none, null);
  });

  it('rejectClient returns the client, rejected', async () => {
    await h.ok('mutation { approveClient(mac: "dc:a6:32:01:02:06") { mac } }');
    const res = await h.ok('mutation { rejectClient(mac: "dc:a6:32:01:02:06") { mac status } }');
    assert.deepEqual(res.rejectClient, { mac: 'dc:a6:32:01:02:06', status: 'REJECTED' });
  });

  it('renameClient, setClientBootConfig and assignImage return the updated client', async () => {
    const renamed = await h.ok('mutation { renameClient(mac: "dc:a6:32:01:02:03", name: "desk-7") { name } }');
    assert.equal(renamed.renameClient.name, 'desk-7');
    const config = await h.ok(
      'mutation ($c: String!, $a: String!) { setClientBootConfig(mac: "dc:a6:32:01:02:03", configTxt: $c, cmdlineArgs: $a) { configTxt cmdlineArgs } }',
      {
        c: 'dtoverlay=vc4-kms-v3d\narm_boost=1',
        a: 'quiet splash',
      },
    );
    assert.deepEqual(config.setClientBootConfig, { configTxt: 'dtoverlay=vc4-kms-v3d\narm_boost=1', cmdlineArgs: 'quiet splash' });
    const unassigned = await h.ok('mutation { assignImage(mac: "dc:a6:32:01:02:03", imageId: null) { imageId image { id } } }');
    assert.deepEqual(unassigned.assignImage, { imageId: null, image: null });
    const assigned = await h.ok(
      'mutation { assignImage(mac: "dc:a6:32:01:02:03", imageId: "raspberry-pi-os-bookworm") { imageId image { clients { mac } } } }',
    );
    assert.equal(assigned.assignImage.imageId, 'raspberry-pi-os-bookworm');
    assert.deepEqual(assigned.assignImage.image.clients, [{ mac: 'dc:a6:32:01:02:03' }]);
  });

  it('client mutations name the field of a bad value, and CLIENT_NOT_FOUND for an unknown MAC', async () => {
    const badName = await h.gql('mutation { renameClient(mac: "dc:a6:32:01:02:03", name: "-bad-") { name } }');
    assert.equal(badName.errors?.[0]?.extensions?.code, 'VALIDATION');
    assert.equal(badName.errors?.[0]?.extensions?.field, 'name');
    const badArgs = await h.gql('mutation { setClientBootConfig(mac: "dc:a6:32:01:02:03", configTxt: "", cmdlineArgs: "a\\nb") { mac } }');
    assert.equal(badArgs.errors?.[0]?.extensions?.field, 'cmdlineArgs');
    for (const mutation of [
      'rejectClient(mac: "dc:a6:32:0f:0f:0f") { mac }',
      'renameClient(mac: "dc:a6:32:0f:0f:0f", name: "x") { mac }',
      'removeClient(mac: "dc:a6:32:0f:0f:0f")',
      'assignImage(mac: "dc:a6:32:0f:0f:0f", imageId: null) { mac }',
    ]) {
      const res = await h.gql(`mutation { ${mutation} }`);
      assert.equal(res.errors?.[0]?.extensions?.code, 'CLIENT_NOT_FOUND', mutation);
      assert.equal(res.errors?.[0]?.extensions?.field, 'mac', mutation);
    }
  });

  it('deleteImage is refused while a client uses the image (IMAGE_IN_USE), then works', async () => {
    const inUse = await h.gql('mutation { deleteImage(id: "raspberry-pi-os-bookworm") }');
    assert.equal(inUse.errors?.[0]?.extensions?.code, 'IMAGE_IN_USE');
    assert.match(inUse.errors?.[0]?.message ?? '', /dc:a6:32:01:02:03/);
    await h.ok('mutation { assignImage(mac: "dc:a6:32:01:02:03", imageId: null) { mac } }');
    const deleted = await h.ok('mutation { deleteImage(id: "raspberry-pi-os-bookworm") }');
    assert.equal(deleted.deleteImage, true);
    const after = await h.ok('{ images { id } }');
    assert.deepEqual(after.images, []);
    const again = await h.gql('mutation { deleteImage(id: "raspberry-pi-os-bookworm") }');
    assert.equal(again.errors?.[0]?.extensions?.code, 'IMAGE_NOT_FOUND');
  });

  it('renameImage returns the renamed image; an unknown id is IMAGE_NOT_FOUND', async () => {
    const treePath = makeImageTree(images.dir, 'lite');
    const registered = await h.ok('mutation ($p: String!) { registerImage(name: "Lite", path: $p) { id } }', { p: treePath });
    const renamed = await h.ok('mutation ($id: String!) { renameImage(id: $id, name: "Lite 64-bit") { id name } }', {
      id: registered.registerImage.id,
    });
    assert.deepEqual(renamed.renameImage, { id: 'lite', name: 'Lite 64-bit' });
    const unknown = await h.gql('mutation { renameImage(id: "nope", name: "x") { id } }');
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'IMAGE_NOT_FOUND');
  });

  it('removeClient forgets a client and returns true', async () => {
    const res = await h.ok('mutation { removeClient(mac: "dc:a6:32:01:02:06") }');
    assert.equal(res.removeClient, true);
    const after = await h.ok('{ client(mac: "dc:a6:32:01:02:06") { mac } }');
    assert.equal(after.client, null);
  });

  it('importClients approves every good row and reports each bad row with its line and code', async () => {
    const csv = [
      'mac,name,imageId',
      'b8:27:eb:00:00:01,lab-1,lite',
      'not-a-mac,lab-2,',
      'b8:27:eb:00:00:03,lab-3,no-such-image',
      'B8-27-EB-00-00-04,lab-4,',
    ].join('\n');
    const res = await h.ok('mutation ($csv: String!) { importClients(csv: $csv) { line key ok code message } }', { csv });
    const rows = res.importClients as Array<{ line: number; key: string | null; ok: boolean; code: string | null }>;
    assert.deepEqual(
      rows.map((r) => [r.line, r.ok, r.code]),
      [
        [2, true, null],
        [3, false, 'VALIDATION'],
        [4, false, 'IMAGE_NOT_FOUND'],
        [5, true, null],
      ],
    );
    assert.equal(rows[0].key, 'b8:27:eb:00:00:01');
    assert.equal(rows[3].key, 'b8:27:eb:00:00:04');
    // Read-your-writes: the imported clients are there as soon as the mutation answered.
    const clients = await h.ok('{ clients(status: APPROVED) { mac name imageId } }');
    assert.deepEqual(
      clients.clients.filter((c: { mac: string }) => c.mac.startsWith('b8:27:eb')),
      [
        { mac: 'b8:27:eb:00:00:01', name: 'lab-1', imageId: 'lite' },
        { mac: 'b8:27:eb:00:00:04', name: 'lab-4', imageId: null },
      ],
    );
  });

  it('settings and updateSettings: the global settings; only the given fields change; a bad value is VALIDATION on its field', async () => {
    const before = await h.ok('{ settings { interface serverIp } }');
    assert.deepEqual(before.settings, { interface: null, serverIp: null });
    const updated = await h.ok('mutation ($input: SettingsInput!) { updateSettings(input: $input) { interface serverIp } }', {
      input: { serverIp: '192.168.1.2' },
    });
    assert.deepEqual(updated.updateSettings, { interface: null, serverIp: '192.168.1.2' });
    const bad = await h.gql('mutation { updateSettings(input: { serverIp: "not-an-ip" }) { serverIp } }');
    assert.equal(bad.errors?.[0]?.extensions?.code, 'VALIDATION');
    assert.equal(bad.errors?.[0]?.extensions?.field, 'serverIp');
    const old = await h.gql('mutation { updateSettings(input: { dhcpMode: FULL }) { serverIp } }');
    assert.equal(old.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED', 'the DHCP fields belong to the DHCP plugin now');
    const after = await h.ok('{ settings { interface serverIp } }');
    assert.deepEqual(after.settings, { interface: null, serverIp: '192.168.1.2' });
  });
});
