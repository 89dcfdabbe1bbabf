import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/core/config/config';

describe('configuration from BRAMBLE_* variables', () => {
  it('has working defaults', () => {
    const c = loadConfig({}, '/srv/bramble');
    assert.equal(c.dataDir, '/srv/bramble/data');
    assert.equal(c.httpHost, '127.0.0.1');
    assert.equal(c.httpPort, 3000);
    assert.deepEqual(c.eventStore, { kind: 'sqlite', file: path.join('/srv/bramble/data', 'events.db') });
    assert.equal(c.adminToken, null);
    assert.deepEqual(c.plugins, []);
    assert.equal(c.logLevel, 'info');
  });

  it('reads every variable', () => {
    const c = loadConfig({
      BRAMBLE_DATA_DIR: '/var/lib/bramble',
      BRAMBLE_HTTP_HOST: '0.0.0.0',
      BRAMBLE_HTTP_PORT: '8080',
      BRAMBLE_EVENT_STORE: 'kurrentdb://db1:2113?tls=false',
      BRAMBLE_ADMIN_TOKEN: 'x'.repeat(20),
      BRAMBLE_PLUGINS: './a.js, @school/bramble-b',
      BRAMBLE_INTERFACE: 'enp3s0',
      BRAMBLE_SERVER_IP: '10.0.0.1',
      BRAMBLE_LOG_LEVEL: 'debug',
    });
    assert.equal(c.httpPort, 8080);
    assert.deepEqual(c.eventStore, { kind: 'kurrentdb', connectionString: 'kurrentdb://db1:2113?tls=false' });
    assert.deepEqual(c.plugins, ['./a.js', '@school/bramble-b']);
    assert.equal(c.interface, 'enp3s0');
    assert.equal(c.serverIp, '10.0.0.1');
  });

  it('reads BRAMBLE_ACCEPT_EVENT_LOSS as a head position (unset: null, refuse any loss)', () => {
    assert.equal(loadConfig({}).acceptEventLossAt, null);
    assert.equal(loadConfig({ BRAMBLE_ACCEPT_EVENT_LOSS: '1200' }).acceptEventLossAt, 1200);
    assert.equal(loadConfig({ BRAMBLE_ACCEPT_EVENT_LOSS: '0' }).acceptEventLossAt, 0);
  });

  const bad: [Record<string, string>, string][] = [
    [{ BRAMBLE_HTTP_PORT: '70000' }, 'BRAMBLE_HTTP_PORT'],
    [{ BRAMBLE_HTTP_PORT: 'abc' }, 'BRAMBLE_HTTP_PORT'],
    [{ BRAMBLE_EVENT_STORE: 'postgres://x' }, 'BRAMBLE_EVENT_STORE'],
    [{ BRAMBLE_ADMIN_TOKEN: 'short' }, 'BRAMBLE_ADMIN_TOKEN'],
    [{ BRAMBLE_INTERFACE: 'eth0; rm -rf /' }, 'BRAMBLE_INTERFACE'],
    [{ BRAMBLE_SERVER_IP: '10.0.0.256' }, 'BRAMBLE_SERVER_IP'],
    [{ BRAMBLE_LOG_LEVEL: 'loud' }, 'BRAMBLE_LOG_LEVEL'],
    [{ BRAMBLE_HTTP_HOST: 'a b' }, 'BRAMBLE_HTTP_HOST'],
    [{ BRAMBLE_DATADIR: '/x' }, 'BRAMBLE_DATADIR'],
    // A token with whitespace could never be sent in `Authorization: Bearer <token>`: a locked-out install.
    [{ BRAMBLE_ADMIN_TOKEN: 'correct horse battery staple' }, 'BRAMBLE_ADMIN_TOKEN'],
    [{ BRAMBLE_ADMIN_TOKEN: ' 0123456789abcdefghij' }, 'BRAMBLE_ADMIN_TOKEN'],
    [{ BRAMBLE_ADMIN_TOKEN: '0123456789abcdefghij\n' }, 'BRAMBLE_ADMIN_TOKEN'],
    [{ BRAMBLE_ADMIN_TOKEN: '0123456789\tabcdefghij' }, 'BRAMBLE_ADMIN_TOKEN'],
    [{ BRAMBLE_ADMIN_TOKEN: 'ümlaut-token-0123456789' }, 'BRAMBLE_ADMIN_TOKEN'],
    [{ BRAMBLE_ADMIN_TOKEN: 'x'.repeat(513) }, 'BRAMBLE_ADMIN_TOKEN'],
    [{ BRAMBLE_ACCEPT_EVENT_LOSS: 'yes' }, 'BRAMBLE_ACCEPT_EVENT_LOSS'],
    [{ BRAMBLE_ACCEPT_EVENT_LOSS: '-1' }, 'BRAMBLE_ACCEPT_EVENT_LOSS'],
    [{ BRAMBLE_ACCEPT_EVENT_LOSS: '1e3' }, 'BRAMBLE_ACCEPT_EVENT_LOSS'],
  ];
  for (const [env, key] of bad) {
    it(`rejects ${JSON.stringify(env)} naming ${key}`, () => {
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof ConfigError && e.key === key && e.message.startsWith(`config: ${key}:`),
      );
    });
  }

  it('takes the admin token exactly as given (printable ASCII, 16 to 512 characters)', () => {
    assert.equal(loadConfig({ BRAMBLE_ADMIN_TOKEN: 'Ab-_.~+/=0123456789' }).adminToken, 'Ab-_.~+/=0123456789');
  });
});
