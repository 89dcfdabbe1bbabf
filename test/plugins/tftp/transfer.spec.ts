import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { negotiate, type Negotiated, type TransferLimits } from '../../../src/plugins/tftp/tftp.options';
import {
  blockCount,
  type DoneEffect,
  expectsRollover,
  onAck,
  onClientError,
  onTimer,
  type SendDataEffect,
  startTransfer,
  type Step,
  type TransferEffect,
  type TransferState,
} from '../../../src/plugins/tftp/tftp.transfer';

const LIMITS: TransferLimits = { maxBlockSize: 1468, maxWindowSize: 16, defaultTimeoutMs: 1000, maxRetries: 3 };

/** No options: no OACK, 512-byte blocks. */
const PLAIN: Negotiated = negotiate([], 0, LIMITS);

function neg(options: Record<string, string>, size: number, limits: TransferLimits = LIMITS): Negotiated {
  return negotiate(
    Object.entries(options).map(([name, value]) => ({ name, value })),
    size,
    limits,
  );
}

function data(block: number, offset: number, length: number): SendDataEffect {
  return { type: 'send-data', block, offset, length };
}

/** The effects must be exactly one 'done'; returns it. */
function doneOf(step: Step): DoneEffect {
  assert.equal(step.effects.length, 1, JSON.stringify(step.effects));
  const e = step.effects[0];
  assert.equal(e.type, 'done');
  assert.ok(step.state.finished);
  return e as DoneEffect;
}

/** The wire blocks of the DATA effects. */
function wires(effects: readonly TransferEffect[]): number[] {
  return effects.map((e) => {
    assert.equal(e.type, 'send-data');
    return (e as SendDataEffect).block;
  });
}

describe('tftp transfer: helpers', () => {
  it('blockCount: floor(size / blockSize) + 1', () => {
    assert.equal(blockCount(0, 512), 1);
    assert.equal(blockCount(511, 512), 1);
    assert.equal(blockCount(512, 512), 2);
    assert.equal(blockCount(1300, 512), 3);
    assert.equal(blockCount(2228224, 1468), 1518);
  });

  it('expectsRollover: more than 65535 blocks', () => {
    assert.equal(expectsRollover(512 * 65534 + 511, 512), false); // 65535 blocks: the last is 65535
    assert.equal(expectsRollover(512 * 65535, 512), true); // 65536 blocks: an empty one numbered 0
    assert.equal(expectsRollover(91 * 1024 * 1024, 1468), false);
    assert.equal(expectsRollover(92 * 1024 * 1024, 1468), true);
    assert.equal(expectsRollover(40 * 1024 * 1024, 512), true);
  });
});

describe('tftp transfer: lock-step (RFC 1350)', () => {
  it('a plain 512-byte transfer: block 1 at once, the next on each ACK, the last ACK completes', () => {
    let s = startTransfer(PLAIN, 1300, 1000);
    assert.deepEqual(s.effects, [data(1, 0, 512)]);
    assert.equal(s.state.deadline, 2000);
    s = onAck(s.state, 1, 1010);
    assert.deepEqual(s.effects, [data(2, 512, 512)]);
    assert.equal(s.state.deadline, 2010);
    s = onAck(s.state, 2, 1020);
    assert.deepEqual(s.effects, [data(3, 1024, 276)]);
    s = onAck(s.state, 3, 1030);
    assert.deepEqual(doneOf(s), {
      type: 'done',
      outcome: 'complete',
      bytes: 1300,
      blocks: 3,
      retransmissions: 0,
      durationMs: 30,
      blockSize: 512,
      windowSize: 1,
    });
  });

  it('a file of an exact multiple of the block size ends with an empty DATA', () => {
    let s = startTransfer(PLAIN, 1024, 0);
    s = onAck(s.state, 1, 1);
    assert.deepEqual(s.effects, [data(2, 512, 512)]);
    s = onAck(s.state, 2, 2);
    assert.deepEqual(s.effects, [data(3, 1024, 0)]);
    assert.equal(s.state.finished, false, 'block 2 is full: not the end');
    assert.equal(doneOf(onAck(s.state, 3, 3)).outcome, 'complete');
  });

  it('an empty file is one empty block', () => {
    const s = startTransfer(PLAIN, 0, 5);
    assert.deepEqual(s.effects, [data(1, 0, 0)]);
    const d = doneOf(onAck(s.state, 1, 7));
    assert.equal(d.outcome, 'complete');
    assert.equal(d.bytes, 0);
    assert.equal(d.blocks, 1);
    assert.equal(d.durationMs, 2);
  });

  it('with an OACK: send it, wait for ACK 0, then block 1 of the negotiated size', () => {
    const n = neg({ tsize: '0', blksize: '1024' }, 3000);
    let s = startTransfer(n, 3000, 0);
    assert.deepEqual(s.effects, [
      {
        type: 'send-oack',
        options: [
          { name: 'tsize', value: '3000' },
          { name: 'blksize', value: '1024' },
        ],
      },
    ]);
    const before = s.state;
    s = onAck(s.state, 1, 1); // not sent yet: ignored
    assert.deepEqual(s.effects, []);
    assert.equal(s.state, before);
    s = onAck(s.state, 0, 2);
    assert.deepEqual(s.effects, [data(1, 0, 1024)]);
    s = onAck(s.state, 1, 3);
    assert.deepEqual(s.effects, [data(2, 1024, 1024)]);
    s = onAck(s.state, 2, 4);
    assert.deepEqual(s.effects, [data(3, 2048, 952)]);
    const d = doneOf(onAck(s.state, 3, 5));
    assert.equal(d.outcome, 'complete');
    assert.equal(d.blockSize, 1024);
    assert.equal(d.bytes, 3000);
  });

  it('events do not modify the state they are given', () => {
    const s = startTransfer(PLAIN, 5000, 0);
    const snapshot = { ...s.state };
    onAck(s.state, 1, 1);
    onTimer(s.state, 5000);
    onClientError(s.state, 0, 'x', 2);
    assert.deepEqual(s.state, snapshot);
  });
});

describe('tftp transfer: the Pi size probe (docs/pi-netboot-protocol.md §3.3)', () => {
  const PROBE = neg({ tsize: '0', blksize: '1468' }, 100_000);
  const atOack = () => startTransfer(PROBE, 100_000, 0).state;
  const afterAck = (n: number) => {
    let st = atOack();
    for (let b = 0; b <= n; b++) st = onAck(st, b, b + 1).state;
    return st;
  };

  it('ERROR code 8 in the OACK phase → probe', () => {
    const d = doneOf(onClientError(atOack(), 8, 'option refused', 40));
    assert.equal(d.outcome, 'probe');
    assert.equal(d.detail, 'code 8: option refused');
    assert.equal(d.bytes, 0);
    assert.equal(d.blocks, 0);
    assert.equal(d.durationMs, 40);
  });

  it('ERROR code 0 "Early terminate" after ACK 0 (block 1 sent) → probe', () => {
    const d = doneOf(onClientError(afterAck(0), 0, 'Early terminate', 9));
    assert.equal(d.outcome, 'probe');
    assert.equal(d.detail, 'code 0: Early terminate');
    assert.equal(d.blocks, 0);
  });

  it('ERROR code 0 after block 1 was acknowledged → probe, one block counted', () => {
    const d = doneOf(onClientError(afterAck(1), 0, 'Early terminate', 9));
    assert.equal(d.outcome, 'probe');
    assert.equal(d.blocks, 1);
    assert.equal(d.bytes, 1468);
  });

  it('ERROR after block 2 was acknowledged → client-error', () => {
    const d = doneOf(onClientError(afterAck(2), 0, 'Early terminate', 9));
    assert.equal(d.outcome, 'client-error');
    assert.equal(d.detail, 'code 0: Early terminate');
    assert.equal(d.bytes, 2936);
  });

  it('another code early → client-error', () => {
    const d = doneOf(onClientError(atOack(), 3, 'Disk full', 1));
    assert.equal(d.outcome, 'client-error');
    assert.equal(d.detail, 'code 3: Disk full');
  });

  it('without tsize, code 8 to an OACK is the client refusing it → client-error', () => {
    const n = neg({ blksize: '1024' }, 5000);
    const d = doneOf(onClientError(startTransfer(n, 5000, 0).state, 8, 'no', 1));
    assert.equal(d.outcome, 'client-error');
  });

  it('without any option, an early ERROR → client-error', () => {
    assert.equal(doneOf(onClientError(startTransfer(PLAIN, 5000, 0).state, 0, 'x', 1)).outcome, 'client-error');
  });
});

describe("tftp transfer: duplicate ACKs are ignored (Sorcerer's Apprentice, RFC 1123 §4.2.3.1)", () => {
  it('a repeated ACK, an old ACK and an ACK for a block never sent: no effects, same state', () => {
    let s = startTransfer(PLAIN, 5000, 0);
    s = onAck(s.state, 1, 1);
    s = onAck(s.state, 2, 2);
    assert.deepEqual(s.effects, [data(3, 1024, 512)]);
    const st = s.state;
    for (const wire of [2, 1, 0, 4, 9, 65535]) {
      const again = onAck(st, wire, 3);
      assert.deepEqual(again.effects, [], `ACK ${wire}`);
      assert.equal(again.state, st, `ACK ${wire}: state unchanged`);
    }
    assert.equal(st.deadline, 1002, 'a duplicate does not push the deadline either');
  });

  it('ACK 0 again after the OACK phase: ignored', () => {
    let s = startTransfer(neg({ tsize: '0' }, 2000), 2000, 0);
    s = onAck(s.state, 0, 1);
    assert.deepEqual(onAck(s.state, 0, 2).effects, []);
  });
});

describe('tftp transfer: timeouts (retransmit on timeout only)', () => {
  it('OACK phase: nothing before the deadline, then the OACK again', () => {
    const n = neg({ tsize: '0' }, 700);
    let s = startTransfer(n, 700, 100);
    assert.equal(s.state.deadline, 1100);
    assert.deepEqual(onTimer(s.state, 1099).effects, []);
    assert.equal(onTimer(s.state, 1099).state, s.state);
    s = onTimer(s.state, 1100);
    assert.deepEqual(s.effects, [{ type: 'send-oack', options: [{ name: 'tsize', value: '700' }] }]);
    assert.equal(s.state.deadline, 2100);
    assert.equal(s.state.retransmissions, 1);
    s = onAck(s.state, 0, 2200);
    assert.deepEqual(s.effects, [data(1, 0, 512)]);
  });

  it('data: the outstanding block again; the timeout option sets the interval', () => {
    const n = neg({ timeout: '2' }, 700);
    let s = startTransfer(n, 700, 0);
    s = onAck(s.state, 0, 10);
    s = onAck(s.state, 1, 20);
    assert.deepEqual(s.effects, [data(2, 512, 188)]);
    assert.equal(s.state.deadline, 2020);
    s = onTimer(s.state, 2021);
    assert.deepEqual(s.effects, [data(2, 512, 188)]);
    assert.equal(s.state.deadline, 4021);
    const d = doneOf(onAck(s.state, 2, 4030));
    assert.equal(d.retransmissions, 1);
    assert.equal(d.durationMs, 4030);
  });

  it('maxRetries resends without progress, then the next deadline gives up: timeout', () => {
    let s = startTransfer(PLAIN, 5000, 0);
    s = onAck(s.state, 1, 0);
    for (let i = 1; i <= 3; i++) {
      s = onTimer(s.state, i * 1000);
      assert.deepEqual(s.effects, [data(2, 512, 512)], `resend ${i}`);
    }
    const d = doneOf(onTimer(s.state, 4000));
    assert.equal(d.outcome, 'timeout');
    assert.equal(d.retransmissions, 3);
    assert.equal(d.blocks, 1);
    assert.equal(d.bytes, 512);
    assert.equal(d.durationMs, 4000);
    assert.match(d.detail ?? '', /4 timeouts of 1000 ms in a row, block 1 of 10 acknowledged/);
  });

  it('progress resets the retry count', () => {
    let s = startTransfer(PLAIN, 5000, 0);
    s = onTimer(s.state, 1000);
    s = onTimer(s.state, 2000);
    s = onTimer(s.state, 3000);
    assert.equal(s.state.retries, 3);
    s = onAck(s.state, 1, 3500);
    assert.equal(s.state.retries, 0);
    for (let i = 1; i <= 3; i++) {
      s = onTimer(s.state, 3500 + i * 1000);
      assert.equal(s.effects.length, 1);
      assert.equal(s.effects[0].type, 'send-data');
    }
    const d = doneOf(onTimer(s.state, 7500));
    assert.equal(d.outcome, 'timeout');
    assert.equal(d.retransmissions, 6);
  });

  it('maxRetries 0: the first deadline ends it, in the OACK phase too', () => {
    const n = neg({ tsize: '0' }, 10, { ...LIMITS, maxRetries: 0 });
    const s = startTransfer(n, 10, 0);
    const d = doneOf(onTimer(s.state, 1000));
    assert.equal(d.outcome, 'timeout');
    assert.equal(d.retransmissions, 0);
    assert.match(d.detail ?? '', /waiting for ACK 0/);
  });
});

describe('tftp transfer: windows (RFC 7440)', () => {
  it('windowsize 4: four blocks per ACK; a lost block restarts the window after the last one received', () => {
    const size = 512 * 9 + 100; // 10 blocks
    let s = startTransfer(neg({ windowsize: '4' }, size), size, 0);
    assert.deepEqual(s.effects, [{ type: 'send-oack', options: [{ name: 'windowsize', value: '4' }] }]);
    s = onAck(s.state, 0, 1);
    assert.deepEqual(s.effects, [data(1, 0, 512), data(2, 512, 512), data(3, 1024, 512), data(4, 1536, 512)]);
    s = onAck(s.state, 4, 2);
    assert.deepEqual(wires(s.effects), [5, 6, 7, 8]);
    // Block 7 lost: the client acknowledges 6, the last it got in order.
    s = onAck(s.state, 6, 3);
    assert.deepEqual(s.effects, [data(7, 3072, 512), data(8, 3584, 512), data(9, 4096, 512), data(10, 4608, 100)]);
    // Late ACKs of the older window: ignored.
    assert.deepEqual(onAck(s.state, 6, 4).effects, []);
    assert.deepEqual(onAck(s.state, 4, 4).effects, []);
    // A timeout resends the whole outstanding window.
    s = onTimer(s.state, 1003);
    assert.deepEqual(wires(s.effects), [7, 8, 9, 10]);
    assert.equal(s.state.retransmissions, 4);
    const d = doneOf(onAck(s.state, 10, 1010));
    assert.equal(d.outcome, 'complete');
    assert.equal(d.windowSize, 4);
    assert.equal(d.retransmissions, 4);
  });

  it('windowsize 16: normal flow over 40 blocks, then a lost block mid-window', () => {
    const size = 1024 * 39 + 1; // 40 blocks of 1024
    let s = startTransfer(neg({ blksize: '1024', windowsize: '16' }, size), size, 0);
    s = onAck(s.state, 0, 1);
    assert.deepEqual(
      wires(s.effects),
      Array.from({ length: 16 }, (_, i) => i + 1),
    );
    s = onAck(s.state, 16, 2);
    assert.deepEqual(
      wires(s.effects),
      Array.from({ length: 16 }, (_, i) => i + 17),
    );
    s = onAck(s.state, 20, 3); // 21 lost
    assert.deepEqual(
      wires(s.effects),
      Array.from({ length: 16 }, (_, i) => i + 21),
    );
    assert.deepEqual(s.effects[0], data(21, 20 * 1024, 1024));
    s = onAck(s.state, 36, 4);
    assert.deepEqual(wires(s.effects), [37, 38, 39, 40], 'the last window is short');
    assert.deepEqual(s.effects[3], data(40, 39 * 1024, 1));
    assert.equal(doneOf(onAck(s.state, 40, 5)).outcome, 'complete');
  });

  it('windowsize is clamped to the limit', () => {
    const s = onAck(startTransfer(neg({ windowsize: '64' }, 100_000), 100_000, 0).state, 0, 1);
    assert.equal(s.effects.length, 16);
  });
});

describe('tftp transfer: block numbers roll over to 0 after 65535 (docs §3.3)', () => {
  it('70,000 blocks of 8 bytes, lock-step: …65535, 0, 1…, right offsets, the last ACK completes', () => {
    const size = 8 * 69_999 + 5;
    assert.equal(blockCount(size, 8), 70_000);
    assert.ok(expectsRollover(size, 8));
    let s = startTransfer(neg({ blksize: '8', tsize: '0' }, size), size, 0);
    s = onAck(s.state, 0, 0);
    const seen: number[] = [];
    for (let abs = 1; abs <= 70_000; abs++) {
      assert.equal(s.effects.length, 1);
      const e = s.effects[0] as SendDataEffect;
      assert.equal(e.type, 'send-data');
      assert.equal(e.block, abs % 65536);
      assert.equal(e.offset, (abs - 1) * 8);
      assert.equal(e.length, abs === 70_000 ? 5 : 8);
      if (abs >= 65_534 && abs <= 65_539) seen.push(e.block);
      if (abs === 65_540) {
        // An old ACK from before the wrap (wire 65535 = block 65535) is not block 131071.
        assert.deepEqual(onAck(s.state, 65_535, abs).effects, []);
      }
      s = onAck(s.state, e.block, abs);
    }
    assert.deepEqual(seen, [65_534, 65_535, 0, 1, 2, 3]);
    const d = doneOf(s);
    assert.equal(d.outcome, 'complete');
    assert.equal(d.bytes, size);
    assert.equal(d.blocks, 70_000);
    assert.equal(d.durationMs, 70_000);
  });

  it('70,000 blocks of 512 in windows of 16, with a loss across the wrap', () => {
    const size = 512 * 69_999 + 300;
    let s = startTransfer(neg({ windowsize: '16' }, size), size, 0);
    s = onAck(s.state, 0, 0);
    let acked = 0;
    let lostOnce = false;
    const wire: number[] = [];
    while (!s.state.finished) {
      const sent = s.effects as SendDataEffect[];
      assert.ok(sent.length >= 1 && sent.length <= 16);
      sent.forEach((e, i) => {
        const abs = acked + 1 + i;
        assert.equal(e.block, abs & 0xffff);
        assert.equal(e.offset, (abs - 1) * 512);
        assert.equal(e.length, abs === 70_000 ? 300 : 512);
        if (abs >= 65_530 && abs <= 65_545) wire.push(e.block);
      });
      const last = acked + sent.length;
      if (!lostOnce && acked < 65_535 && last >= 65_536) {
        // Lose block 65536 (wire 0), the one after 65535: the client acknowledges 65535.
        lostOnce = true;
        acked = 65_535;
        s = onAck(s.state, 65_535, 1);
        assert.equal((s.effects[0] as SendDataEffect).block, 0);
        assert.equal((s.effects[0] as SendDataEffect).offset, 65_535 * 512);
        continue;
      }
      acked = last;
      s = onAck(s.state, last & 0xffff, 2);
    }
    assert.ok(lostOnce);
    assert.equal(acked, 70_000);
    assert.ok(wire.includes(65_535) && wire.includes(0) && wire.indexOf(0) === wire.indexOf(65_535) + 1);
    const d = doneOf(s);
    assert.equal(d.bytes, size);
    assert.equal(d.blocks, 70_000);
  });
});

describe('tftp transfer: after the end', () => {
  it('no effects for any event once finished', () => {
    let s = startTransfer(PLAIN, 10, 0);
    s = onAck(s.state, 1, 1);
    assert.ok(s.state.finished);
    const st: TransferState = s.state;
    for (const next of [onAck(st, 1, 2), onAck(st, 2, 2), onClientError(st, 0, 'x', 2), onTimer(st, 1e9)]) {
      assert.deepEqual(next.effects, []);
      assert.equal(next.state, st);
    }
    const err = onClientError(startTransfer(PLAIN, 10, 0).state, 1, 'x', 1).state;
    assert.deepEqual(onAck(err, 1, 2).effects, []);
    assert.deepEqual(onTimer(err, 1e9).effects, []);
  });
});
