/**
 * The ganesha config and kernel exports renderers (nfs.ganesha-config.ts, nfs.kernel-exports.ts):
 * byte fixtures of a typical set of exports, and hostile values from events (quotes, newlines,
 * braces) that must never reach a file unescaped. The files are parsed for real elsewhere: ganesha
 * in ganesha.e2e.spec.ts, exportfs in kernel.spec.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderGaneshaConfig, type GaneshaExport } from '../../../src/plugins/nfs/nfs.ganesha-config';
import { renderKernelExports } from '../../../src/plugins/nfs/nfs.kernel-exports';

const EXPORTS: GaneshaExport[] = [
  {
    exportId: 3,
    path: '/srv/images/pi os/v2',
    access: 'ro',
    clients: ['10.0.0.21', '10.0.0.22'],
    kind: 'image',
    images: [{ imageId: 'img-1', version: 2 }],
  },
  { exportId: 1, path: '/srv/bramble/homes', access: 'rw', clients: ['10.0.0.21'], kind: 'homes', images: [] },
];

const GANESHA_FIXTURE = `# Written by bramble (plugin nfs): every change is overwritten. Edit bramble's settings instead.
NFS_CORE_PARAM {
  Protocols = 3, 4;
  Bind_Addr = 10.0.0.1;
  Mount_Path_Pseudo = true;
  MNT_Port = 20048;
  Enable_NLM = false;
  Enable_RQUOTA = false;
  Enable_UDP = false;
}
NFS_KRB5 {
  Active_krb5 = false;
}
NFSv4 {
  RecoveryBackend = fs;
  RecoveryRoot = "/var/lib/bramble/plugins/nfs/ganesha/recovery";
  Graceless = true;
  Only_Numeric_Owners = true;
}
LOG {
  Default_Log_Level = EVENT;
}
# image img-1 v2
EXPORT {
  Export_Id = 3;
  Path = "/srv/images/pi os/v2";
  Pseudo = "/srv/images/pi os/v2";
  Protocols = 3, 4;
  Transports = TCP;
  SecType = sys;
  Squash = No_Root_Squash;
  Access_Type = None;
  FSAL {
    Name = VFS;
  }
  CLIENT {
    Clients = 10.0.0.21, 10.0.0.22;
    Access_Type = RO;
  }
}
# home folders
EXPORT {
  Export_Id = 1;
  Path = "/srv/bramble/homes";
  Pseudo = "/srv/bramble/homes";
  Protocols = 3, 4;
  Transports = TCP;
  SecType = sys;
  Squash = Root_Squash;
  Access_Type = None;
  FSAL {
    Name = VFS;
  }
  CLIENT {
    Clients = 10.0.0.21;
    Access_Type = RW;
  }
}
`;

const KERNEL_FIXTURE = `# Written by bramble (plugin nfs): every change is overwritten. Edit bramble's settings instead.
"/srv/images/pi os/v2" 10.0.0.21(ro,sync,no_subtree_check,no_root_squash,sec=sys,fsid=3) 10.0.0.22(ro,sync,no_subtree_check,no_root_squash,sec=sys,fsid=3)
"/srv/bramble/homes" 10.0.0.21(rw,sync,no_subtree_check,root_squash,sec=sys,fsid=1)
`;

const BASE = { versions: [4, 3] as (3 | 4)[], bindAddress: '10.0.0.1', recoveryRoot: '/var/lib/bramble/plugins/nfs/ganesha/recovery' };

describe('ganesha config renderer', () => {
  it('renders the fixture', () => assert.equal(renderGaneshaConfig({ ...BASE, exports: EXPORTS }), GANESHA_FIXTURE));

  it('NFSv4 only: Protocols = 4 in the core and every export', () => {
    const text = renderGaneshaConfig({ ...BASE, versions: [4], exports: EXPORTS });
    assert.equal(text.match(/Protocols = 4;/g)?.length, 3);
    assert.doesNotMatch(text, /Protocols = 3/);
  });

  it('no exports: only the core blocks (ganesha serves an empty pseudo root)', () => {
    const text = renderGaneshaConfig({ ...BASE, exports: [] });
    assert.doesNotMatch(text, /EXPORT/);
    assert.match(text, /Bind_Addr = 10\.0\.0\.1;/);
  });

  const hostile: Array<[string, Partial<GaneshaExport>, RegExp]> = [
    ['a quote in the path', { path: '/srv/a"; Access_Type = RW; "' }, /refusing to write path/],
    ['a newline in the path', { path: '/srv/a\n}\nEXPORT {' }, /control character/],
    ['a brace in the path', { path: '/srv/a}' }, /refusing to write path/],
    ['a relative path', { path: 'srv/a' }, /absolute/],
    ['a client that is not an address', { clients: ['10.0.0.1; Access_Type = RW'] }, /refusing to write client/],
    ['a hostname client', { clients: ['*'] }, /refusing to write client/],
    ['a CIDR with /33', { clients: ['10.0.0.0/33'] }, /refusing to write client/],
    ['no clients', { clients: [] }, /has no clients/],
    ['export id 0', { exportId: 0 }, /export id/],
  ];
  for (const [name, over, error] of hostile) {
    it(`throws instead of writing ${name}`, () => {
      assert.throws(() => renderGaneshaConfig({ ...BASE, exports: [{ ...EXPORTS[0], ...over }] }), error);
      assert.throws(() => renderKernelExports([{ ...EXPORTS[0], ...over }]), error);
    });
  }

  it('an image id with a newline and braces stays inside its comment line', () => {
    const text = renderGaneshaConfig({
      ...BASE,
      exports: [{ ...EXPORTS[0], images: [{ imageId: 'x\n} EXPORT { Path = "/"; }\n#', version: 1 }] }],
    });
    assert.match(text, /^# image x\?\} EXPORT \{ Path = "\/"; \}\?# v1$/m);
    assert.equal(text.match(/^EXPORT \{$/gm)?.length, 1);
    assert.equal(text.split('\n').length, GANESHA_FIXTURE.split('\n').length - 18);
  });

  it('logMounts: NFSPROTO at DEBUG inside LOG, nothing else changed', () => {
    const text = renderGaneshaConfig({ ...BASE, exports: EXPORTS, logMounts: true });
    assert.equal(
      text,
      GANESHA_FIXTURE.replace(
        '  Default_Log_Level = EVENT;\n}',
        '  Default_Log_Level = EVENT;\n  Components {\n    NFSPROTO = DEBUG;\n  }\n}',
      ),
    );
    assert.notEqual(text, GANESHA_FIXTURE);
  });

  it('repeated export ids are refused', () => {
    assert.throws(() => renderGaneshaConfig({ ...BASE, exports: [EXPORTS[0], { ...EXPORTS[1], exportId: 3 }] }), /repeated export id 3/);
  });

  it('a bind address that is not IPv4 is refused', () => {
    assert.throws(() => renderGaneshaConfig({ ...BASE, bindAddress: '0.0.0.0; }', exports: [] }), /not an IPv4 address/);
  });
});

describe('kernel exports renderer', () => {
  it('renders the fixture (paths quoted, one client(options) per client)', () =>
    assert.equal(renderKernelExports(EXPORTS), KERNEL_FIXTURE));

  it('a subnet client', () => {
    assert.match(renderKernelExports([{ ...EXPORTS[0], clients: ['10.0.0.0/24'] }]), /^"\/srv\/images\/pi os\/v2" 10\.0\.0\.0\/24\(ro,/m);
  });
});
