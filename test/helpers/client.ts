import http from 'node:http';

export interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  /** Header names and values as received, repeats included ([name, value, ...]); from requestFrom. */
  rawHeaders?: string[];
}

/** One request to 127.0.0.1:port with the given Host, on `agent` (keep-alive pools) or a new connection. */
export function request(
  port: number,
  host: string,
  p: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    agent?: http.Agent;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: p,
        method: opts.method ?? 'GET',
        headers: { host, ...opts.headers },
        agent: opts.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * One request on a new connection from a chosen loopback source address (each address is another client
 * to the edge's IP rules and rate limits). A body is sent with Content-Length, or chunked in two chunks so
 * the edge sees a body of unknown size grow past a limit.
 */
export function requestFrom(
  port: number,
  host: string,
  from: string,
  p = '/',
  opts: { body?: Buffer; chunked?: boolean; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host, ...opts.headers };
    if (opts.body) {
      if (opts.chunked) headers['transfer-encoding'] = 'chunked';
      else headers['content-length'] = String(opts.body.length);
    }
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: p,
        method: opts.body ? 'POST' : 'GET',
        headers,
        localAddress: from,
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
          }),
        );
      },
    );
    req.on('error', reject);
    if (opts.body && opts.chunked) {
      req.write(opts.body.subarray(0, 512));
      req.end(opts.body.subarray(512));
    } else if (opts.body) req.end(opts.body);
    else req.end();
  });
}
