import net from 'node:net';

export interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/**
 * One HTTP/1.1 exchange written by hand on a socket, so a test controls exactly which body bytes go out
 * and when (chunked or declared, trickled, cut off). `response` settles with the first complete answer.
 */
export class RawRequest {
  readonly socket: net.Socket;
  readonly response: Promise<RawResponse>;
  readonly closed: Promise<void>;
  private received = Buffer.alloc(0);

  constructor(port: number, head: string) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('error', () => undefined);
    this.socket.write(head);
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.response = new Promise((resolve, reject) => {
      const parse = () => {
        const end = this.received.indexOf('\r\n\r\n');
        if (end < 0) return false;
        const head = this.received.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        const body = this.received.subarray(end + 4);
        if (body.length < length) return false;
        resolve({
          status: Number(head.split(' ')[1]),
          head,
          body: body.subarray(0, length).toString('utf8'),
        });
        return true;
      };
      this.socket.on('data', (c: Buffer) => {
        this.received = Buffer.concat([this.received, c]);
        parse();
      });
      this.socket.once('close', () => {
        if (!parse()) reject(new Error(`connection closed without an answer: ${this.received.toString()}`));
      });
    });
    this.response.catch(() => undefined);
  }

  /** Writes bytes if the socket is still open; false once the server has closed or reset it. */
  write(data: string | Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(data);
    return true;
  }

  /** One chunk of a chunked body. */
  chunk(data: Buffer): boolean {
    return this.write(
      Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]),
    );
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A request head for `RawRequest` (CRLF line ends, the blank line included). */
export function requestHead(method: string, target: string, headers: Record<string, string>): string {
  const lines = [`${method} ${target} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}
