/**
 * Creating sockets inside a network namespace from this process: `setns(2)` on the calling thread,
 * create the socket synchronously, switch back. A socket keeps the namespace it was created in, so
 * one process drives Pis in a lab namespace while the rest of it (a test, its GraphQL client) stays
 * where it was. test/support/netlab.ts switches the same way, through switchNetns (tests may import
 * tools; tools do not import tests).
 */
import { closeSync, openSync } from 'node:fs';
import koffi from 'koffi';

const CLONE_NEWNET = 0x40000000;
let setnsFn: ((fd: number, nstype: number) => number) | null = null;

/** Calls `fn` with this thread in the named namespace (/run/netns/<name>); null: where it is. */
export function inNetns<T>(name: string | null | undefined, fn: () => T): T {
  if (!name) return fn();
  const original = openSync('/proc/thread-self/ns/net', 'r');
  try {
    const target = openSync(`/run/netns/${name}`, 'r');
    try {
      return switchNetns(original, target, name, fn);
    } finally {
      closeSync(target);
    }
  } finally {
    closeSync(original);
  }
}

/**
 * Calls `fn` with this thread in the namespace open as `target` (`name` for errors), then back in
 * `original`, both namespace files the caller keeps open.
 */
export function switchNetns<T>(original: number, target: number, name: string, fn: () => T): T {
  if (!setnsFn) setnsFn = koffi.load('libc.so.6').func('int setns(int, int)') as (fd: number, nstype: number) => number;
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
}
