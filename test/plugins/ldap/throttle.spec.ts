/**
 * Bind throttling (ldap.throttle.ts): failures per user and per address slow the next check down,
 * growing, capped, forgotten after a while, cleared by a success; memory bounded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BASE_DELAY_MS,
  BindThrottle,
  delayAfter,
  FORGET_AFTER_MS,
  FREE_FAILURES,
  MAX_DELAY_MS,
  MAX_KEYS,
} from '../../../src/plugins/ldap/ldap.throttle';

describe('LDAP bind throttle', () => {
  it('delays grow by doubling after the free failures, up to the cap', () => {
    const delays = Array.from({ length: 12 }, (_, i) => delayAfter(i));
    assert.deepEqual(delays.slice(0, FREE_FAILURES), Array(FREE_FAILURES).fill(0));
    assert.equal(delayAfter(FREE_FAILURES), BASE_DELAY_MS);
    assert.equal(delayAfter(FREE_FAILURES + 1), 2 * BASE_DELAY_MS);
    assert.equal(delayAfter(50), MAX_DELAY_MS);
    for (let i = 1; i < delays.length; i++) assert.ok(delays[i] >= delays[i - 1]);
  });

  it('failures on one user slow that user down from any address, not other users', () => {
    const t = new BindThrottle();
    let now = 1_000_000;
    for (let i = 0; i < FREE_FAILURES + 2; i++) t.record('teacher', `10.0.0.${i + 1}`, false, (now += 10));
    const d = t.admit('teacher', '10.0.0.200', now);
    assert.equal(d.userFailures, FREE_FAILURES + 2);
    assert.equal(d.waitMs, delayAfter(FREE_FAILURES + 2));
    assert.equal(t.admit('pupil', '10.0.0.201', now).waitMs, 0);
  });

  it('failures from one address slow every user tried from there', () => {
    const t = new BindThrottle();
    let now = 5_000;
    for (let i = 0; i < FREE_FAILURES + 1; i++) t.record(`user${i}`, '10.0.0.66', false, (now += 1));
    const d = t.admit('someone-else', '10.0.0.66', now);
    assert.equal(d.addressFailures, FREE_FAILURES + 1);
    assert.equal(d.waitMs, delayAfter(FREE_FAILURES + 1));
    assert.equal(t.admit('someone-else', '10.0.0.67', now).waitMs, 0);
  });

  it('the wait shrinks as time passes, and the failures are forgotten after FORGET_AFTER_MS', () => {
    const t = new BindThrottle();
    for (let i = 0; i < FREE_FAILURES + 3; i++) t.record('a', '10.0.0.1', false, 0);
    const full = t.admit('a', '10.0.0.1', 0).waitMs;
    assert.equal(t.admit('a', '10.0.0.1', 1000).waitMs, full - 1000);
    assert.equal(t.admit('a', '10.0.0.1', FORGET_AFTER_MS).waitMs, 0);
    assert.equal(t.admit('a', '10.0.0.1', FORGET_AFTER_MS).userFailures, 0);
  });

  it('a success clears the user and the address (a Pi is not slowed for the next pupil once someone logged in)', () => {
    const t = new BindThrottle();
    for (let i = 0; i < FREE_FAILURES + 3; i++) t.record('a', '10.0.0.1', false, 0);
    t.record('teacher', '10.0.0.9', false, 0);
    t.record('a', '10.0.0.1', true, 1);
    assert.deepEqual(t.admit('b', '10.0.0.1', 1), { waitMs: 0, userFailures: 0, addressFailures: 0 });
    assert.equal(t.admit('teacher', '10.0.0.1', 1).userFailures, 1, "another user's count is not touched");
  });

  it('memory is bounded: a scan of random names keeps at most MAX_KEYS keys', () => {
    const t = new BindThrottle();
    for (let i = 0; i < MAX_KEYS; i++) t.record(`u${i}`, '10.0.0.1', false, 0);
    assert.ok(t.size <= MAX_KEYS, `${t.size} keys`);
    // The address key is the most recently used: it survives the eviction of old user keys.
    assert.equal(t.admit('new', '10.0.0.1', 0).addressFailures, MAX_KEYS);
  });
});
