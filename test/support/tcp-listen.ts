/**
 * TCP listeners inside a lab namespace for an in-process server: node's `server.listen(port, host)`
 * creates its socket after a tick (an address lookup), too late for NetLab.inNamespace, which only
 * covers synchronous work. So the socket is made synchronously through libc (koffi) inside the
 * namespace, bound and listening, and node adopts it with `server.listen({ fd })`. The socket stays
 * in the namespace it was created in.
 */
import { Socket, type Server } from 'node:net';
import koffi from 'koffi';
import { AF_INET, loadLibc, sockaddr } from '../../src/plugins/tftp/tftp.libc';
import type { NetLab } from './netlab';

/** libc's listen(2): the one call this needs beyond the TFTP plugin's libc bindings (loadLibc). */
let listenFn: ((fd: number, backlog: number) => number) | null = null;

function listen(fd: number, backlog: number): number {
  listenFn ??= koffi.load('libc.so.6').func('int listen(int, int)') as (fd: number, backlog: number) => number;
  return listenFn(fd, backlog);
}

const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;

/**
 * A TCP connection to ip:port made from the calling thread's network namespace (a blocking
 * connect: on a lab's veth it takes well under a millisecond), adopted by node: an in-process
 * client on a lab host.
 */
export function tcpConnectInNamespace(lab: NetLab, host: string, ip: string, port: number): Socket {
  const fd = lab.inNamespace(host, () => {
    const c = loadLibc();
    const s = c.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) throw new Error(`socket: errno ${koffi.errno()}`);
    if (c.connect(s, sockaddr(ip, port), 16) !== 0) {
      const errno = koffi.errno();
      c.close(s);
      throw new Error(`connect ${ip}:${port}: errno ${errno}`);
    }
    return s;
  });
  return new Socket({ fd, readable: true, writable: true });
}

/** A listening TCP socket on ip:port, in the calling thread's network namespace. */
export function tcpListenFd(ip: string, port: number): number {
  const c = loadLibc();
  const fd = c.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket: errno ${koffi.errno()}`);
  const one = Buffer.alloc(4);
  one.writeInt32LE(1);
  c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4);
  if (c.bind(fd, sockaddr(ip, port), 16) !== 0 || listen(fd, 511) !== 0) {
    const errno = koffi.errno();
    c.close(fd);
    throw new Error(`bind/listen ${ip}:${port}: errno ${errno}`);
  }
  return fd;
}

/** A `listen` for servers that take one: binds inside the lab host's namespace. */
export function listenInNamespace(lab: NetLab, host: string): (server: Server, ip: string, port: number) => Promise<void> {
  return (server, ip, port) =>
    new Promise((resolve, reject) => {
      let fd: number;
      try {
        fd = lab.inNamespace(host, () => tcpListenFd(ip, port));
      } catch (error) {
        reject(error as Error);
        return;
      }
      server.once('error', reject);
      server.listen({ fd }, () => {
        server.off('error', reject);
        resolve();
      });
    });
}
