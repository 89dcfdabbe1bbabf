/**
 * The README's GraphQL examples, run in the order written against a fresh bramble with the DHCP
 * plugin (without sockets: what is tested is the API). One substitution: the image path
 * `/srv/bramble/images/bookworm` becomes a temporary folder holding a root file system, so the test
 * writes nothing outside its own temp folder. Subscriptions are validated against the schema.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { parse, validate } from 'graphql';
import { createDhcpPlugin } from '../../src/plugins/dhcp/dhcp.plugin';
import { startHarness, type Harness } from '../support/app-harness';
import { tempDir } from '../support/temp';

const ROOT = path.join(__dirname, '..', '..', '..');
const README_IMAGE_PATH = '/srv/bramble/images/bookworm';

/** The operations of the README's ```graphql block, one per line that starts one (comments dropped). */
function readmeOperations(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /```graphql\n([\s\S]*?)\n```/.exec(readme.slice(readme.indexOf('## GraphQL examples')));
  assert.ok(block, 'the README has a graphql block under "GraphQL examples"');
  return block[1].split('\n').filter((line) => /^(query|mutation|subscription) /.test(line));
}

describe("the README's GraphQL examples, in the order written", () => {
  let h: Harness;
  const images = tempDir('bramble-readme-images-');
  const imagePath = path.join(images.dir, 'bookworm');

  before(async () => {
    for (const dir of ['etc', 'usr', 'boot/firmware']) mkdirSync(path.join(imagePath, dir), { recursive: true });
    h = await startHarness({
      plugins: [
        createDhcpPlugin({
          probeIntervalMs: 0,
          createFd: () => {
            throw new Error('no sockets in this test');
          },
        }),
      ],
    });
  });
  after(async () => {
    await h.close();
    images.cleanup();
  });

  it('has the examples the quick start names', () => {
    const ops = readmeOperations().join('\n');
    for (const name of [
      'updateSettings',
      'updatePluginSettings',
      'plugins',
      'approveClient',
      'registerImage',
      'assignImage',
      'importUsers',
      'createApiToken',
      'stateAt',
    ]) {
      assert.match(ops, new RegExp(`\\b${name}\\b`), name);
    }
  });

  it('every query and mutation answers without an error; every subscription is valid', async () => {
    const schema = h.app.nest.get(GraphQLSchemaHost).schema;
    for (const op of readmeOperations()) {
      if (op.startsWith('subscription')) {
        assert.deepEqual(validate(schema, parse(op)), [], op);
        continue;
      }
      const res = await h.gql(op.replace(README_IMAGE_PATH, imagePath));
      assert.equal(res.errors, undefined, `${op}\n→ ${res.text}`);
    }
    const client = await h.ok('{ client(mac: "dc:a6:32:01:36:c2") { status name imageId } }');
    assert.deepEqual(client.client, { status: 'APPROVED', name: 'lab-07', imageId: 'raspberry-pi-os-bookworm' });
    const dhcp = await h.ok('{ plugin(name: "dhcp") { settings } }');
    assert.equal(dhcp.plugin.settings.mode, 'full');
  });
});
