#!/usr/bin/env node
/**
 * The bench's floor for a proxy written in Node (row (c0)): the least work any Node proxy does per request on
 * a machine. Each client connection gets its own upstream connection and bytes are copied both ways as they
 * come: no HTTP parsing, no routing, no headers added, no pooling, no metrics, no log. What it costs per
 * request is Node's stream reads and writes plus the kernel's four loopback socket calls, so the built-in
 * edge's figure over this one is what Berth's own work costs.
 *
 * Usage: node bench/node-relay.mjs LISTEN_PORT UPSTREAM_PORT (both on 127.0.0.1). Not for any other use.
 */
import net from 'node:net';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
if (!Number.isInteger(listenPort) || !Number.isInteger(upstreamPort)) {
  process.stderr.write('usage: node bench/node-relay.mjs LISTEN_PORT UPSTREAM_PORT\n');
  process.exit(2);
}

net
  .createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  })
  .listen(listenPort, '127.0.0.1');

process.on('SIGTERM', () => process.exit(0));
