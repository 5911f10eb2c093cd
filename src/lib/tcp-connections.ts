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

/** Established connections per local address (as procAddress writes it), in /proc/net/tcp text. */
export function establishedByLocalAddress(table: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of table.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[3] === ESTABLISHED) counts.set(cols[1], (counts.get(cols[1]) ?? 0) + 1);
  }
  return counts;
}

/** The kernel's table read once: how many established connections each address has now. */
export class EstablishedConnections {
  private constructor(private readonly counts: Map<string, number>) {}

  static read(): EstablishedConnections {
    return new EstablishedConnections(establishedByLocalAddress(fs.readFileSync('/proc/net/tcp', 'utf8')));
  }

  to(host: string, port: number): number {
    return this.counts.get(procAddress(host, port)) ?? 0;
  }
}
