/**
 * Units of work (GraphQL requests, pages of costly operations) take turns on the event loop: a UDP
 * packet (a DHCP DISCOVER) that arrives while five of them wait is handled after the first, not
 * after all five; too many waiting requests are refused; admitted work is never refused.
 */
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { EventLoopTurns } from '../../../src/core/limits/event-loop-turns';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // a unit of work that holds the loop
  }
}

describe('event-loop turns', () => {
  it('a packet that arrives while units wait is handled after the unit running, not after all of them', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const order: string[] = [];
    const turns = new EventLoopTurns();
    const done = new Promise<void>((resolve) => {
      for (let i = 0; i < 5; i++) {
        turns.enqueue(() => {
          order.push(`unit${i}`);
          // The packet is sent (and lands) while the first unit holds the loop.
          if (i === 0) socket.send('DISCOVER', socket.address().port, '127.0.0.1');
          busy(10);
          if (i === 4) resolve();
        });
      }
    });
    socket.on('message', () => order.push('packet'));
    await done;
    await new Promise((r) => setTimeout(r, 20));
    socket.close();
    assert.ok(order.indexOf('packet') >= 1 && order.indexOf('packet') <= 2, order.join(' '));
  });

  it('refuses a unit when too many wait; never refuses admitted work (yieldTurn); an error does not stop the turns', async () => {
    const turns = new EventLoopTurns(2);
    const errors: unknown[] = [];
    turns.setErrorHandler((e) => errors.push(e));
    const ran: number[] = [];
    assert.equal(
      turns.enqueue(() => {
        throw new Error('boom');
      }),
      true,
    );
    assert.equal(
      turns.enqueue(() => ran.push(2)),
      true,
    );
    assert.equal(
      turns.enqueue(() => ran.push(3)),
      false,
      'a third waiting request is refused',
    );
    const yielded = turns.yieldTurn().then(() => ran.push(4));
    await yielded;
    assert.deepEqual(ran, [2, 4]);
    assert.equal(errors.length, 1);
    assert.equal(turns.waiting, 0);
  });
});
