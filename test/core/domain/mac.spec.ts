import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCanonicalMac, isValidClientName, normalizeMac } from '../../../src/core/domain/client/mac';
import { assertDomainError } from '../../support/given-when-then';

describe('normalizeMac', () => {
  const canonical = 'dc:a6:32:01:36:c2';

  for (const input of [
    'dc:a6:32:01:36:c2',
    'DC:A6:32:01:36:C2',
    'dc-a6-32-01-36-c2',
    'DC-A6-32-01-36-C2',
    'dca6.3201.36c2',
    'DCA6.3201.36C2',
    'dca6320136c2',
    'DCA6320136C2',
    '  dc:a6:32:01:36:c2\t',
    '\ndca6320136c2 ',
  ]) {
    it(`accepts ${JSON.stringify(input)}`, () => {
      assert.equal(normalizeMac(input), canonical);
    });
  }

  for (const input of [
    '',
    '   ',
    'dc:a6:32:01:36',
    'dc:a6:32:01:36:c2:00',
    'dc:a6:32:01:36:g2',
    'dc:a6-32:01:36:c2',
    'dc:a6:32:01:36:c',
    'd:c:a:6:3:2',
    'dca6.3201.36c',
    'dca6320136c2a',
    'dc a6 32 01 36 c2',
    'dc::a6:32:01:36:c2',
  ]) {
    it(`rejects ${JSON.stringify(input)} naming the field mac`, () => {
      const error = assertDomainError(() => normalizeMac(input), 'VALIDATION', 'mac');
      assert.ok(error.message.startsWith('mac: '));
    });
  }

  it('rejects a non-string without crashing', () => {
    assertDomainError(() => normalizeMac(undefined as unknown as string), 'VALIDATION', 'mac');
  });

  it('isCanonicalMac accepts only the canonical form', () => {
    assert.equal(isCanonicalMac(canonical), true);
    assert.equal(isCanonicalMac('DC:A6:32:01:36:C2'), false);
    assert.equal(isCanonicalMac('dca6320136c2'), false);
  });
});

describe('isValidClientName', () => {
  for (const name of ['pi', 'p', '1', 'pi-01', 'Lab3-Pi12', 'a'.repeat(63), '0pi9']) {
    it(`accepts ${name.length > 20 ? `${name.length} characters` : name}`, () => {
      assert.equal(isValidClientName(name), true);
    });
  }
  for (const name of ['', '-pi', 'pi-', 'pi_01', 'pi.lab', 'pi 01', 'a'.repeat(64), 'pï', 'pi\n']) {
    it(`rejects ${JSON.stringify(name.length > 20 ? `${name.length} characters` : name)}`, () => {
      assert.equal(isValidClientName(name), false);
    });
  }
});
