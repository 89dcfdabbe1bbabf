/**
 * A UDP socket that serves exactly one network interface.
 *
 * node:dgram cannot do this alone: a socket bound to 0.0.0.0:67 receives broadcasts from every
 * interface and cannot tell which one (no IP_PKTINFO), and one bound to a unicast address receives
 * no broadcasts at all. Linux's SO_BINDTODEVICE fixes both: the socket only receives what arrives
 * on that interface, and its broadcasts leave through it. So the socket is created with libc
 * through koffi (an FFI library shipping prebuilt binaries), configured, bound, and handed to
 * node:dgram with `bind({ fd })`, after which it is an ordinary dgram.Socket.
 */
import { createSocket, type Socket } from 'node:dgram';
import koffi from 'koffi';

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_BROADCAST = 6;
const SO_BINDTODEVICE = 25;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, length: number): number;
  bind(fd: number, address: Buffer, length: number): number;
  close(fd: number): number;
  errno(): number;
  strerror(errnum: number): string;
}

let libc: Libc | null = null;

function load(): Libc {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    socket: lib.func('int socket(int, int, int)'),
    setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
    bind: lib.func('int bind(int, const void *, uint32_t)'),
    close: lib.func('int close(int)'),
    // koffi saves errno right after each call, before JavaScript can clobber it.
    errno: () => koffi.errno(),
    strerror: lib.func('const char *strerror(int)'),
  };
  return libc;
}

const ERRNO_NAMES: Record<number, string> = { 1: 'EPERM', 13: 'EACCES', 19: 'ENODEV', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL' };

export class SocketSetupError extends Error {
  constructor(
    readonly step: string,
    readonly code: string,
    detail: string,
  ) {
    super(`${step}: ${code} (${detail})`);
    this.name = 'SocketSetupError';
  }
}

function fail(c: Libc, step: string, fd: number | null): never {
  const errnum = c.errno();
  if (fd !== null && fd >= 0) c.close(fd);
  throw new SocketSetupError(step, ERRNO_NAMES[errnum] ?? `errno ${errnum}`, c.strerror(errnum));
}

export interface BoundSocketOptions {
  port: number;
  /** Interface to serve (SO_BINDTODEVICE); null serves every interface (single-NIC hosts). */
  interface: string | null;
  /** Address to bind; default 0.0.0.0 (needed to receive broadcasts). */
  address?: string;
  /**
   * SO_REUSEADDR. Off by default, so that a port another server holds (say dnsmasq on udp/67)
   * is reported as EADDRINUSE instead of silently shared. Sockets bound to different devices do
   * not conflict without it.
   */
  reuseAddress?: boolean;
}

/** Creates the socket file descriptor (synchronously, in the calling thread's network namespace). */
export function createBoundUdpFd(options: BoundSocketOptions): number {
  const c = load();
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(c, 'socket', null);
  const one = Buffer.alloc(4);
  one.writeInt32LE(1);
  if (options.reuseAddress && c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4) !== 0) fail(c, 'SO_REUSEADDR', fd);
  if (c.setsockopt(fd, SOL_SOCKET, SO_BROADCAST, one, 4) !== 0) fail(c, 'SO_BROADCAST', fd);
  if (options.interface) {
    const name = Buffer.from(`${options.interface}\0`, 'utf8');
    if (c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, name.length) !== 0) fail(c, `SO_BINDTODEVICE ${options.interface}`, fd);
  }
  const sa = Buffer.alloc(16);
  sa.writeUInt16LE(AF_INET, 0);
  sa.writeUInt16BE(options.port, 2);
  const parts = (options.address ?? '0.0.0.0').split('.').map(Number);
  for (let i = 0; i < 4; i++) sa[4 + i] = parts[i];
  if (c.bind(fd, sa, 16) !== 0) fail(c, `bind udp/${options.port}`, fd);
  return fd;
}

/**
 * Wraps a bound descriptor in a dgram.Socket. libuv turns SO_REUSEADDR on for every socket it
 * adopts; unless `reuseAddress` was asked for it is turned off again, so that another server
 * started later on the same port and interface (dnsmasq sets SO_REUSEADDR too) gets EADDRINUSE
 * instead of silently sharing the port.
 */
export function adoptUdpFd(fd: number, reuseAddress = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4' });
    socket.once('error', reject);
    socket.bind({ fd }, () => {
      socket.off('error', reject);
      if (!reuseAddress) {
        const c = load();
        const zero = Buffer.alloc(4);
        if (c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, zero, 4) !== 0) {
          socket.close();
          reject(new SocketSetupError('SO_REUSEADDR off', ERRNO_NAMES[c.errno()] ?? `errno ${c.errno()}`, c.strerror(c.errno())));
          return;
        }
      }
      resolve(socket);
    });
  });
}

/** A dgram socket bound to `port` on one interface (or all), broadcast enabled. */
export async function openBoundUdpSocket(options: BoundSocketOptions): Promise<Socket> {
  return adoptUdpFd(createBoundUdpFd(options), options.reuseAddress ?? false);
}
