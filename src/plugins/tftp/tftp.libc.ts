/**
 * The few libc calls the TFTP data path makes, through koffi (an FFI library with prebuilt
 * binaries, already bramble's way to SO_BINDTODEVICE).
 *
 * Why not node:dgram: a TFTP transfer is lock-step (one block, wait for its ACK, next block), so
 * its speed is the round trip through the server. Measured on one veth, 50 MiB at blksize 1468,
 * curl as client: a node:dgram server took 1.30–1.48 s where dnsmasq took 1.07–1.10 s (its
 * per-datagram path allocates a Buffer and an rinfo object, emits an event, and runs the loop's
 * other phases between an ACK and the next block). The same loop calling epoll_wait, recv and send
 * directly took 1.04–1.10 s. So transfers run in a worker thread (tftp.worker.ts) that blocks in
 * epoll_wait on its transfer sockets, off the event loop every protocol and the API share, and
 * moves a turn's datagrams with recvmmsg(2) and sendmmsg(2). Usable from the main thread (to create
 * sockets) and from the worker.
 */
import koffi from 'koffi';

export const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_RCVBUF = 8;
const SO_SNDBUF = 7;
const SO_BINDTODEVICE = 25;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
export const MSG_DONTWAIT = 0x40;
export const EPOLLIN = 0x001;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
export const EAGAIN = 11;

export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, length: number): number;
  bind(fd: number, address: Buffer, length: number): number;
  connect(fd: number, address: Buffer, length: number): number;
  getsockname(fd: number, address: Buffer, length: number[]): number;
  /**
   * The worker loop's calls (the *At ones) take the buffer's address (addressOf) instead of the
   * buffer: koffi passes an integer for less than it takes to pin a Buffer and find its bytes. On a
   * connected loopback socket pair, one send + recv took 5.8–6.0 µs this way against 6.5–6.9 µs
   * with Buffer arguments. The caller keeps the buffer alive while it uses the address.
   * `messagesAddress`: an array of struct mmsghdr built by the caller (see SendQueue in tftp.worker.ts).
   */
  sendmmsgAt(fd: number, messagesAddress: number, count: number, flags: number): number;
  /** The same for receiving (RecvBatch in tftp.worker.ts); no timeout. */
  recvmmsgAt(fd: number, messagesAddress: number, count: number, flags: number, timeout: number): number;
  epollWaitAt(epfd: number, eventsAddress: number, maxEvents: number, timeoutMs: number): number;
  /** udp/69's requests in the worker: the sender's struct sockaddr_in at `fromAddress`, its length at `lengthAddress`. */
  recvfromAt(fd: number, address: number, length: number, flags: number, fromAddress: number, lengthAddress: number): number;
  sendto(fd: number, buffer: Buffer, length: number, flags: number, to: Buffer, toLength: number): number;
  close(fd: number): number;
  epollCreate1(flags: number): number;
  epollCtl(epfd: number, op: number, fd: number, event: Buffer | null): number;
  epollWait(epfd: number, events: Buffer, maxEvents: number, timeoutMs: number): number;
  eventfd(initval: number, flags: number): number;
  read(fd: number, buffer: Buffer, length: number): number;
  write(fd: number, buffer: Buffer, length: number): number;
  errno(): number;
  strerror(errnum: number): string;
}

let libc: Libc | null = null;

export function loadLibc(): Libc {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    socket: lib.func('int socket(int, int, int)'),
    setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
    bind: lib.func('int bind(int, const void *, uint32_t)'),
    connect: lib.func('int connect(int, const void *, uint32_t)'),
    getsockname: lib.func('int getsockname(int, _Out_ void *, _Inout_ uint32_t *)'),
    sendmmsgAt: lib.func('int sendmmsg(int, uintptr_t, unsigned int, int)'),
    recvmmsgAt: lib.func('int recvmmsg(int, uintptr_t, unsigned int, int, uintptr_t)'),
    epollWaitAt: lib.func('int epoll_wait(int, uintptr_t, int, int)'),
    recvfromAt: lib.func('long recvfrom(int, uintptr_t, size_t, int, uintptr_t, uintptr_t)'),
    sendto: lib.func('long sendto(int, const void *, size_t, int, const void *, uint32_t)'),
    close: lib.func('int close(int)'),
    epollCreate1: lib.func('int epoll_create1(int)'),
    epollCtl: lib.func('int epoll_ctl(int, int, int, const void *)'),
    epollWait: lib.func('int epoll_wait(int, _Out_ void *, int, int)'),
    eventfd: lib.func('int eventfd(unsigned int, int)'),
    read: lib.func('long read(int, _Out_ void *, size_t)'),
    write: lib.func('long write(int, const void *, size_t)'),
    // koffi saves errno right after each call, before JavaScript can clobber it.
    errno: () => koffi.errno(),
    strerror: lib.func('const char *strerror(int)'),
  };
  return libc;
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM',
  13: 'EACCES',
  19: 'ENODEV',
  24: 'EMFILE',
  98: 'EADDRINUSE',
  99: 'EADDRNOTAVAIL',
  101: 'ENETUNREACH',
};

export class TftpSocketError extends Error {
  constructor(
    readonly step: string,
    readonly code: string,
    detail: string,
  ) {
    super(`${step}: ${code} (${detail})`);
    this.name = 'TftpSocketError';
  }
}

function fail(c: Libc, step: string, fd: number | null): never {
  const errnum = c.errno();
  if (fd !== null && fd >= 0) c.close(fd);
  throw new TftpSocketError(step, ERRNO_NAMES[errnum] ?? `errno ${errnum}`, c.strerror(errnum));
}

/**
 * Where sendmmsg(2)'s structures keep their fields on this machine (glibc: struct iovec, msghdr,
 * mmsghdr), computed by koffi from the C declarations rather than assumed for one architecture.
 */
function messageLayout() {
  const iovec = koffi.struct('bramble_iovec', { iov_base: 'void *', iov_len: 'size_t' });
  const msghdr = koffi.struct('bramble_msghdr', {
    msg_name: 'void *',
    msg_namelen: 'uint32_t',
    msg_iov: 'void *',
    msg_iovlen: 'size_t',
    msg_control: 'void *',
    msg_controllen: 'size_t',
    msg_flags: 'int',
  });
  const mmsghdr = koffi.struct('bramble_mmsghdr', { msg_hdr: msghdr, msg_len: 'unsigned int' });
  return {
    /** Bytes of a pointer and of size_t. */
    word: koffi.sizeof('void *'),
    iovec: koffi.sizeof(iovec),
    iovBase: koffi.offsetof(iovec, 'iov_base'),
    iovLen: koffi.offsetof(iovec, 'iov_len'),
    mmsghdr: koffi.sizeof(mmsghdr),
    msgName: koffi.offsetof(msghdr, 'msg_name'),
    msgNamelen: koffi.offsetof(msghdr, 'msg_namelen'),
    msgIov: koffi.offsetof(msghdr, 'msg_iov'),
    msgIovlen: koffi.offsetof(msghdr, 'msg_iovlen'),
    msgFlags: koffi.offsetof(msghdr, 'msg_flags'),
    msgLen: koffi.offsetof(mmsghdr, 'msg_len'),
  };
}

export type MessageLayout = ReturnType<typeof messageLayout>;
let layout: MessageLayout | null = null;

export function sendmmsgLayout(): MessageLayout {
  layout ??= messageLayout();
  return layout;
}

/** Writes a pointer or size_t (`layout.word` bytes, little-endian) at `offset`. */
export function writeWord(target: Buffer, offset: number, value: number, l: MessageLayout): void {
  if (l.word === 4) {
    target.writeUInt32LE(value, offset);
  } else {
    target.writeUInt32LE(value % 0x100000000, offset);
    target.writeUInt32LE(Math.floor(value / 0x100000000), offset + 4);
  }
}

/** The address of a buffer's first byte (ArrayBuffer memory never moves). */
export function addressOf(buffer: Uint8Array): number {
  return Number(koffi.address(buffer));
}

/** A struct sockaddr_in for `ip:port`. */
export function sockaddr(ip: string, port: number): Buffer {
  const sa = Buffer.alloc(16);
  sa.writeUInt16LE(AF_INET, 0);
  sa.writeUInt16BE(port, 2);
  const parts = ip.split('.').map(Number);
  for (let i = 0; i < 4; i++) sa[4 + i] = parts[i];
  return sa;
}

export interface TftpSocketOptions {
  /** Local address; 0.0.0.0 for any. */
  address: string;
  /** Local port; 0 for an ephemeral one (a transfer socket's, RFC 1350 §4's TID). */
  port: number;
  /** Interface to serve (SO_BINDTODEVICE); null: any. */
  interface: string | null;
  /**
   * SO_RCVBUF / SO_SNDBUF in bytes, when set: forced past net.core.[rw]mem_max where the process
   * may (root, CAP_NET_ADMIN), else capped there by the kernel.
   */
  bufferBytes?: number;
}

/** Creates a non-blocking UDP socket (synchronously, in the calling thread's network namespace). */
export function createTftpSocket(options: TftpSocketOptions): number {
  const c = loadLibc();
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(c, 'socket', null);
  if (options.interface) {
    const name = Buffer.from(`${options.interface}\0`, 'utf8');
    if (c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, name.length) !== 0) fail(c, `SO_BINDTODEVICE ${options.interface}`, fd);
  }
  if (options.bufferBytes) {
    const size = Buffer.alloc(4);
    size.writeInt32LE(options.bufferBytes);
    // Best effort: without CAP_NET_ADMIN the kernel caps both at net.core.[rw]mem_max.
    if (c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4) !== 0) c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4);
    if (c.setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, size, 4) !== 0) c.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, size, 4);
  }
  if (c.bind(fd, sockaddr(options.address, options.port), 16) !== 0) fail(c, `bind udp/${options.port}`, fd);
  return fd;
}

/** The local port a socket is bound to. */
export function localPort(fd: number): number {
  const c = loadLibc();
  const sa = Buffer.alloc(16);
  const len = [16];
  if (c.getsockname(fd, sa, len) !== 0) return 0;
  return sa.readUInt16BE(2);
}

/**
 * Turns SO_REUSEADDR off. libuv turns it on for every socket node:dgram adopts; off, another server
 * started later on the same port (dnsmasq or atftpd set SO_REUSEADDR too) gets EADDRINUSE instead
 * of silently sharing udp/69 with bramble.
 */
export function noReuseAddress(fd: number): void {
  const c = loadLibc();
  if (c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, Buffer.alloc(4), 4) !== 0) fail(c, 'SO_REUSEADDR off', null);
}

export function closeFd(fd: number): void {
  loadLibc().close(fd);
}

/** An eventfd, non-blocking: how the main thread wakes the worker blocked in epoll_wait. */
export function createEventFd(): number {
  const c = loadLibc();
  const fd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) fail(c, 'eventfd', null);
  return fd;
}

const ONE = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);

/** Adds 1 to an eventfd's counter (wakes whoever polls it). */
export function signalEventFd(fd: number): void {
  loadLibc().write(fd, ONE, 8);
}

/**
 * Sends one datagram from `fd` (udp/69, read by the worker) to `ip:port`, synchronously and without
 * blocking: the main thread's ERROR answers. False when the kernel refused it (no buffer space).
 */
export function sendDatagram(fd: number, data: Buffer, ip: string, port: number): boolean {
  return loadLibc().sendto(fd, data, data.length, MSG_DONTWAIT, sockaddr(ip, port), 16) === data.length;
}
