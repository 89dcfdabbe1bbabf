/** The neighbour (ARP) table lookup for TFTP requests from addresses bramble was never told. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { NeighbourTable, parseArpTable } from '../../../src/plugins/tftp/tftp.neighbours';

const FIXTURE = readFileSync(path.join(__dirname, '../../../../test/fixtures/arp/proc-net-arp.txt'), 'latin1');

describe('TFTP neighbour table', () => {
  it('parseArpTable: complete entries only, MACs lower-cased; incomplete, zero and junk entries dropped', () => {
    assert.deepEqual(
      [...parseArpTable(FIXTURE)],
      [
        ['10.0.0.23', 'b8:27:eb:12:34:56'],
        ['10.0.0.25', 'dc:a6:32:aa:bb:cc'],
      ],
    );
    assert.deepEqual([...parseArpTable('')], []);
    assert.deepEqual([...parseArpTable('header only\n')], []);
    assert.deepEqual([...parseArpTable('h\n\0\0\0 garbage 0xzz\n10.0.0.1 0x1\n')], []);
  });

  it('NeighbourTable reads at most once per ttl, and a read that fails is an empty table', () => {
    let reads = 0;
    let now = 0;
    let text = FIXTURE;
    const table = new NeighbourTable(
      () => {
        reads++;
        if (text === 'fail') throw new Error('EACCES');
        return text;
      },
      () => now,
      250,
    );
    assert.equal(table.macOf('10.0.0.23'), 'b8:27:eb:12:34:56');
    assert.equal(table.macOf('10.0.0.99'), null);
    assert.equal(reads, 1, 'one read for both lookups');
    text = 'fail';
    now = 100;
    assert.equal(table.macOf('10.0.0.23'), 'b8:27:eb:12:34:56', 'cached');
    now = 300;
    assert.equal(table.macOf('10.0.0.23'), null);
    assert.equal(reads, 2);
  });

  it('the real table of this namespace parses (whatever is in it)', () => {
    const table = new NeighbourTable();
    assert.equal(table.macOf('203.0.113.254'), null);
  });
});
