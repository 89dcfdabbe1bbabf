/**
 * Creating sockets inside a network namespace from this process: `setns(2)` on the calling thread,
 * create the socket synchronously, switch back. A socket keeps the namespace it was created in, so
 * one process drives Pis in a lab namespace while the rest of it (a test, its GraphQL client) stays
 * where it was. Same technique as test/support/netlab.ts (kept apart: tools do not import tests).
 */
import { closeSync, openSync } from 'node:fs';
import koffi from 'koffi';

const CLONE_NEWNET = 0x40000000;
let setnsFn: ((fd: number, nstype: number) => number) | null = null;

/** Calls `fn` with this thread in the named namespace (/run/netns/<name>); null: where it is. */
export function inNetns<T>(name: string | null | undefined, fn: () => T): T {
  if (!name) return fn();
  if (!setnsFn) setnsFn = koffi.load('libc.so.6').func('int setns(int, int)') as (fd: number, nstype: number) => number;
  const original = openSync('/proc/thread-self/ns/net', 'r');
  const target = openSync(`/run/netns/${name}`, 'r');
  try {
    if (setnsFn(target, CLONE_NEWNET) !== 0) throw new Error(`setns(${name}) failed: errno ${koffi.errno()}`);
    try {
      return fn();
    } finally {
      // Deliberate: a thread left in the wrong namespace must fail loudly, whatever fn() did.
      if (setnsFn(original, CLONE_NEWNET) !== 0) {
        // eslint-disable-next-line no-unsafe-finally
        throw new Error(`could not return to the original network namespace: errno ${koffi.errno()}`);
      }
    }
  } finally {
    closeSync(target);
    closeSync(original);
  }
}
