/** The DHCP plugin's diagnosis (pure): rival servers, proxy mode without an address server, DHCP retries without TFTP. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dhcpFindings, DiscoverLog, retryRun, type DhcpDiagnosisInput } from '../../../src/plugins/dhcp/dhcp.diagnose';

const NOW = 1_000_000_000;
const base: DhcpDiagnosisInput = { mode: 'full', interface: 'lan0', rivals: [], probed: true, discovers: [], lastBoot: null, now: NOW };
const codes = (over: Partial<DhcpDiagnosisInput>) => dhcpFindings({ ...base, ...over }).map((f) => f.code);
const boot = (stage: string, lastProgressStage = stage) => ({
  sessionId: 's',
  stage,
  lastProgressStage,
  startedAt: '',
  at: '',
  cause: null,
  lastRequest: null,
  missing: [],
});

describe('DHCP diagnosis', () => {
  it('full mode with a rival: RIVAL_DHCP_SERVER naming it; proxy mode with one that gives addresses: nothing', () => {
    const rivals = [{ serverId: '10.0.0.1', offeredIp: '10.0.0.99' }];
    const [f] = dhcpFindings({ ...base, rivals });
    assert.equal(f.code, 'RIVAL_DHCP_SERVER');
    assert.equal(f.severity, 'error');
    assert.match(f.message, /10\.0\.0\.1/);
    assert.match(f.message, /lan0/);
    assert.deepEqual(codes({ mode: 'proxy', rivals }), []);
    assert.deepEqual(codes({ rivals, probed: false }), [], 'nothing is said before a probe ran');
  });

  it('proxy mode with no server handing out addresses (none, or only other proxies): NO_ADDRESS_SERVER', () => {
    assert.deepEqual(codes({ mode: 'proxy' }), ['NO_ADDRESS_SERVER']);
    assert.deepEqual(codes({ mode: 'proxy', rivals: [{ serverId: '10.0.0.3', offeredIp: '0.0.0.0' }] }), ['NO_ADDRESS_SERVER']);
    assert.deepEqual(codes({ mode: 'full' }), []);
  });

  it('retryRun: the DISCOVERs at the end that come every 3–9 s', () => {
    assert.deepEqual(retryRun([]), []);
    assert.deepEqual(retryRun([0, 5000, 10_000, 15_100]), [0, 5000, 10_000, 15_100]);
    assert.deepEqual(retryRun([0, 60_000, 65_000, 70_000]), [60_000, 65_000, 70_000], 'a gap of a minute is another boot');
    assert.deepEqual(retryRun([0, 5000, 5500]), [5500], 'a resend 0.5 s later is not the firmware retry pace');
  });

  it('DHCP every ~5 s and no TFTP: DHCP_RETRIES_NO_TFTP (spanning tree), with the count and pace', () => {
    const discovers = [NOW - 20_000, NOW - 15_000, NOW - 10_000, NOW - 5_000, NOW];
    const [f] = dhcpFindings({ ...base, discovers });
    assert.equal(f.code, 'DHCP_RETRIES_NO_TFTP');
    assert.match(f.message, /5 DHCP DISCOVERs about every 5 s/);
    assert.match(f.message, /PortFast/);
    assert.deepEqual(codes({ discovers, lastBoot: boot('STALLED', 'DHCP') }), ['DHCP_RETRIES_NO_TFTP']);
  });

  it('no spanning-tree finding when the boot got past DHCP, with two DISCOVERs only, or long ago', () => {
    const discovers = [NOW - 10_000, NOW - 5_000, NOW];
    assert.deepEqual(codes({ discovers, lastBoot: boot('FIRMWARE') }), []);
    assert.deepEqual(codes({ discovers, lastBoot: boot('STALLED', 'KERNEL') }), []);
    assert.deepEqual(codes({ discovers: discovers.slice(1) }), []);
    assert.deepEqual(codes({ discovers, now: NOW + 3_600_000 }), []);
  });

  it('DiscoverLog keeps the last 12 times per client and at most 4,096 clients, forgetting the oldest', () => {
    const log = new DiscoverLog();
    for (let i = 0; i < 20; i++) log.note('m', i);
    assert.deepEqual(log.get('m'), [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    for (let i = 0; i < 4_100; i++) log.note(`c${i}`, i);
    assert.deepEqual(log.get('m'), [], 'the oldest client was forgotten');
    assert.deepEqual(log.get('c4099'), [4099]);
    assert.deepEqual(log.get('unknown'), []);
  });
});
