/** The NFS plugin's settings checks (nfs.config.ts): defaults and the cross-field rules. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { archivePathOf, checkNfsSettings, NfsSettingsSchema, type NfsSettings } from '../../../src/plugins/nfs/nfs.config';

const DEFAULTS = Value.Default(NfsSettingsSchema, {}) as NfsSettings;

describe('nfs settings', () => {
  it('defaults: ganesha, v3+v4, /srv/bramble/homes, archive beside it, no subnet', () => {
    assert.deepEqual(DEFAULTS, {
      backend: 'ganesha',
      versions: [3, 4],
      homesPath: '/srv/bramble/homes',
      homesArchivePath: null,
      clientSubnet: null,
      exportsFile: '/etc/exports.d/bramble.exports',
    });
    assert.equal(archivePathOf(DEFAULTS), '/srv/bramble/homes.archive');
    assert.deepEqual(checkNfsSettings(DEFAULTS), []);
  });

  const cases: Array<[string, Partial<NfsSettings>, string[]]> = [
    ['a CIDR', { clientSubnet: '10.0.0.0/24' }, []],
    ['an octet over 255', { clientSubnet: '10.0.0.256/24' }, ['clientSubnet']],
    ['a prefix over 32', { clientSubnet: '10.0.0.0/33' }, ['clientSubnet']],
    ['the archive inside the homes', { homesArchivePath: '/srv/bramble/homes/.archive' }, ['homesArchivePath']],
    ['the archive equal to the homes', { homesArchivePath: '/srv/bramble/homes/' }, ['homesArchivePath']],
    ['an archive elsewhere', { homesArchivePath: '/srv/archive' }, []],
    ['an archive whose name only starts like the homes', { homesArchivePath: '/srv/bramble/homes2' }, []],
  ];
  for (const [name, over, fields] of cases) {
    it(name, () =>
      assert.deepEqual(
        checkNfsSettings({ ...DEFAULTS, ...over }).map((p) => p.field),
        fields,
      ),
    );
  }

  it('the schema refuses a relative homes path, an unknown backend, version 2', () => {
    for (const bad of [{ homesPath: 'homes' }, { backend: 'samba' }, { versions: [2] }, { versions: [] }]) {
      assert.equal(Value.Check(NfsSettingsSchema, { ...DEFAULTS, ...bad }), false, JSON.stringify(bad));
    }
  });
});
