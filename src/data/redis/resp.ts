/**
 * Berth's own commands to a Redis it runs (the readiness probe, CONFIG SET/REWRITE): RESP over TCP from Node, so
 * the server needs no redis-cli. Each call is one connection with a timeout; arguments are sent as bulk
 * strings, never spliced into a command line.
 */
import net from 'node:net';

export type RespReply = string | number | null | RespReply[] | RespError;

/** An error reply (`-ERR …`, `-LOADING …`): data, not a thrown error, so a probe can tell them apart. */
export class RespError {
  constructor(readonly message: string) {}
  get code(): string {
    return this.message.split(' ')[0];
  }
}

/** A command as RESP: an array of bulk strings. */
export function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  return Buffer.from(parts.join(''));
}

/** One reply from buf at offset: the reply and where the next starts, or null when buf is incomplete. */
export function parseReply(buf: Buffer, offset = 0): { reply: RespReply; next: number } | null {
  const eol = buf.indexOf('\r\n', offset);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[offset]);
  const line = buf.toString('utf8', offset + 1, eol);
  const after = eol + 2;
  switch (type) {
    case '+':
      return { reply: line, next: after };
    case '-':
      return { reply: new RespError(line), next: after };
    case ':':
      return { reply: Number(line), next: after };
    case '$': {
      const n = Number(line);
      if (n < 0) return { reply: null, next: after };
      if (buf.length < after + n + 2) return null;
      return { reply: buf.toString('utf8', after, after + n), next: after + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { reply: null, next: after };
      const items: RespReply[] = [];
      let at = after;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, at);
        if (!item) return null;
        items.push(item.reply);
        at = item.next;
      }
      return { reply: items, next: at };
    }
    default:
      throw new Error(`not a RESP reply (${JSON.stringify(line.slice(0, 40))})`);
  }
}

/** Sends commands in order on one connection and resolves with their replies (error replies included). */
export function redisCommands(
  target: { host: string; port: number },
  commands: readonly (readonly string[])[],
  timeoutMs = 10_000,
): Promise<RespReply[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    let buf = Buffer.alloc(0);
    const replies: RespReply[] = [];
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`Redis did not answer within ${timeoutMs / 1000}s`)));
    socket.once('error', fail);
    socket.once('connect', () => socket.write(Buffer.concat(commands.map((c) => encodeCommand(c)))));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      let at = 0;
      for (;;) {
        let parsed: ReturnType<typeof parseReply>;
        try {
          parsed = parseReply(buf, at);
        } catch (err) {
          fail(err as Error);
          return;
        }
        if (!parsed) break;
        replies.push(parsed.reply);
        at = parsed.next;
      }
      buf = buf.subarray(at);
      if (replies.length >= commands.length) {
        socket.end();
        resolve(replies);
      }
    });
    socket.once('close', () => {
      if (replies.length < commands.length) reject(new Error('Redis closed the connection before answering'));
    });
  });
}
