/**
 * Open client connections to a listening IPv4 address, read from the kernel's table (/proc/net/tcp): how an
 * engine's idleness is measured without logging in to it (which would itself be a connection).
 */
import fs from 'node:fs';
import os from 'node:os';

/** TCP_ESTABLISHED in /proc/net/tcp's `st` column. */
const ESTABLISHED = '01';

/** An IPv4 address and port as /proc/net/tcp writes them: the address in host byte order, hex. */
export function procAddress(host: string, port: number, endianness: 'LE' | 'BE' = os.endianness()): string {
  const bytes = host.split('.').map((b) => Number(b).toString(16).padStart(2, '0').toUpperCase());
  const ip = (endianness === 'LE' ? bytes.reverse() : bytes).join('');
  return `${ip}:${port.toString(16).padStart(4, '0').toUpperCase()}`;
}

/** Established connections whose local end is host:port (the server's side of each), in /proc/net/tcp text. */
export function countEstablished(
  table: string,
  host: string,
  port: number,
  endianness?: 'LE' | 'BE',
): number {
  const local = procAddress(host, port, endianness);
  let n = 0;
  for (const line of table.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[1] === local && cols[3] === ESTABLISHED) n++;
  }
  return n;
}

/** Established connections to host:port on this machine now. */
export function establishedTo(host: string, port: number): number {
  return countEstablished(fs.readFileSync('/proc/net/tcp', 'utf8'), host, port);
}
