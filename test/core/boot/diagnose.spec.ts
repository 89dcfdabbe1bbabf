/** diagnose (pure): the latest boot session from boot events, the core's findings, their order. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coreFindings, lastBootOf, summarise } from '../../../src/core/boot/diagnose';
import type { ClientRecord, ImageRecord } from '../../../src/core/plugin-api';

const MAC = 'dc:a6:32:01:02:03';

function client(over: Partial<ClientRecord> = {}): ClientRecord {
  return {
    mac: MAC,
    status: 'approved',
    name: null,
    imageId: 'os',
    serial: '1234abcd',
    model: 'RPi4',
    ip: '10.0.0.20',
    bootedImage: null,
    configTxt: '',
    cmdlineArgs: '',
    preRegistered: false,
    detectedAt: '2026-11-26T08:00:00.000Z',
    lastSeenAt: '2026-11-26T08:00:00.000Z',
    approvedAt: '2026-11-26T08:01:00.000Z',
    updatedAt: '2026-11-26T08:01:00.000Z',
    ...over,
  };
}

const anImage = { id: 'os', name: 'os' } as ImageRecord;
const images = (id: string): ImageRecord | null => (id === 'os' ? anImage : null);

function change(sessionId: string, stage: string, previousStage: string | null, at: string, extra: Record<string, unknown> = {}) {
  return { type: 'BootStageChanged', data: { sessionId, stage, previousStage, at, cause: null, lastRequest: null, missing: [], ...extra } };
}

describe('lastBootOf', () => {
  it('is null for a stream without stage changes (old BootProgressed facts only)', () => {
    assert.equal(lastBootOf([]), null);
    assert.equal(lastBootOf([{ type: 'BootProgressed', data: { stage: 'dhcp.discover' } }]), null);
  });

  it('takes the last session only, with its start, stage and the files it missed', () => {
    const boot = lastBootOf([
      change('s1', 'DHCP', null, 't1'),
      change('s1', 'BOOTED', 'DHCP', 't2'),
      change('s2', 'DHCP', null, 't3'),
      change('s2', 'FIRMWARE', 'DHCP', 't4', { missing: ['recovery.elf'] }),
      change('s2', 'STALLED', 'FIRMWARE', 't5', { cause: 'no new file for 20 s', lastRequest: 'start4.elf', missing: ['start4.elf'] }),
    ]);
    assert.deepEqual(boot, {
      sessionId: 's2',
      stage: 'STALLED',
      lastProgressStage: 'FIRMWARE',
      startedAt: 't3',
      at: 't5',
      cause: 'no new file for 20 s',
      lastRequest: 'start4.elf',
      missing: ['recovery.elf', 'start4.elf'],
    });
  });

  it('looks through STALLED then FAILED back to the stage that last made progress', () => {
    const boot = lastBootOf([
      change('s', 'DHCP', null, 'a'),
      change('s', 'KERNEL', 'DHCP', 'b'),
      change('s', 'STALLED', 'KERNEL', 'c'),
      change('s', 'FAILED', 'STALLED', 'd', { cause: 'the client restarted its boot' }),
    ]);
    assert.equal(boot?.stage, 'FAILED');
    assert.equal(boot?.lastProgressStage, 'KERNEL');
    assert.equal(boot?.cause, 'the client restarted its boot');
  });

  it('skips junk data without throwing', () => {
    assert.equal(
      lastBootOf([
        { type: 'BootStageChanged', data: null },
        { type: 'BootStageChanged', data: { stage: 1 } },
      ]),
      null,
    );
  });
});

describe('coreFindings', () => {
  const codes = (c: ClientRecord | null, lastBoot: Parameters<typeof coreFindings>[0]['lastBoot'] = null): string[] =>
    coreFindings({ mac: MAC, client: c, lastBoot }, images).map((f) => f.code);

  it('an unknown MAC: CLIENT_UNKNOWN, with the network-boot settings to check', () => {
    const [f] = coreFindings({ mac: MAC, client: null, lastBoot: null }, images);
    assert.equal(f.code, 'CLIENT_UNKNOWN');
    assert.equal(f.severity, 'error');
    assert.match(f.message, /BOOT_ORDER/);
    assert.match(f.message, /OTP/);
  });

  it('walks the chain: pending, rejected, no image, a deleted image', () => {
    assert.deepEqual(codes(client({ status: 'pending', imageId: null })), ['CLIENT_NOT_APPROVED', 'NO_IMAGE_ASSIGNED']);
    assert.deepEqual(codes(client({ status: 'rejected' })), ['CLIENT_REJECTED']);
    assert.deepEqual(codes(client({ imageId: null })), ['NO_IMAGE_ASSIGNED']);
    assert.deepEqual(codes(client({ imageId: 'gone' })), ['IMAGE_NOT_FOUND']);
    assert.deepEqual(codes(client()), []);
  });

  it('an approved MAC never seen booting gets a warning, not an error', () => {
    const findings = coreFindings(
      { mac: MAC, client: client({ detectedAt: null, lastSeenAt: null, preRegistered: true }), lastBoot: null },
      images,
    );
    assert.deepEqual(
      findings.map((f) => [f.code, f.severity]),
      [['NEVER_SEEN', 'warning']],
    );
  });

  it('the last boot: stalled and failed are errors naming stage, cause and request; booted is information', () => {
    const stalled = coreFindings(
      {
        mac: MAC,
        client: client(),
        lastBoot: {
          sessionId: 's',
          stage: 'STALLED',
          lastProgressStage: 'FIRMWARE',
          startedAt: 'T0',
          at: 'T1',
          cause: 'start4.elf is not in the image',
          lastRequest: 'start4.elf',
          missing: ['start4.elf'],
        },
      },
      images,
    );
    assert.equal(stalled[0].code, 'BOOT_STALLED');
    assert.equal(stalled[0].severity, 'error');
    assert.match(stalled[0].message, /in FIRMWARE: start4\.elf is not in the image/);
    assert.match(stalled[0].message, /Last request: start4\.elf/);
    const base = { sessionId: 's', lastProgressStage: 'BOOTED', startedAt: 'T0', at: 'T1', cause: null, lastRequest: null, missing: [] };
    assert.deepEqual(codes(client(), { ...base, stage: 'BOOTED' }), ['LAST_BOOT_OK']);
    assert.deepEqual(codes(client(), { ...base, stage: 'FAILED' }), ['BOOT_FAILED']);
    assert.deepEqual(codes(client(), { ...base, stage: 'KERNEL' }), ['BOOT_IN_PROGRESS']);
  });
});

describe('summarise', () => {
  it('orders errors, warnings, information (stable) and is ok only without errors', () => {
    const f = (code: string, severity: 'error' | 'warning' | 'info') => ({ code, severity, message: '' });
    const s = summarise([f('I1', 'info'), f('W1', 'warning'), f('E1', 'error'), f('I2', 'info'), f('E2', 'error')]);
    assert.deepEqual(
      s.findings.map((x) => x.code),
      ['E1', 'E2', 'W1', 'I1', 'I2'],
    );
    assert.equal(s.ok, false);
    assert.equal(summarise([f('W', 'warning'), f('I', 'info')]).ok, true);
    assert.equal(summarise([]).ok, true);
  });
});
