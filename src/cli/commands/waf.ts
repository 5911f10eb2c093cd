import type { Command } from 'commander';
import { EDGE_KEYS } from '../../api/contract/domains.js';
import type { EdgePolicyView } from '../client.js';
import { type ContextFlags, resolveTarget } from '../context.js';
import { print, printJson, printTable } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, withContextOptions } from './shared.js';

/**
 * `berth waf`: the edge policy of a service (rate limit per client IP, largest body, IP allow/deny lists,
 * denied paths). Without options it shows the policy; options change it at once (no deploy). Keys set in
 * railway.toml's `[edge]` win over these, and the table says which is which.
 */

interface WafFlags extends ContextFlags, JsonFlag {
  rateLimit?: string;
  window?: string;
  maxBodySize?: string;
  allowIp?: string[];
  denyIp?: string[];
  denyPath?: string[];
  clear?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const offOr = (v: string, parse: (s: string) => unknown) => (v === 'off' ? null : parse(v));
const numberOrText = (v: string) => (/^\d+$/.test(v) ? Number(v) : v);

function show(v: EdgePolicyView): void {
  const p = v.policy;
  const list = (xs: string[]) => (xs.length === 0 ? '—' : xs.join(', '));
  printTable(
    ['setting', 'value', 'from'],
    [
      [
        'rate limit',
        p.rateLimit === null ? 'off' : `${p.rateLimit} per ${p.rateLimitWindowSeconds} s per IP`,
        v.origins.rateLimit,
      ],
      ['max body size', p.maxBodySize === null ? 'off' : `${p.maxBodySize} bytes`, v.origins.maxBodySize],
      ['allowed IPs', list(p.allowIps), v.origins.allowIps],
      ['denied IPs', list(p.denyIps), v.origins.denyIps],
      ['denied paths', list(p.denyPaths), v.origins.denyPaths],
    ],
  );
}

export function registerWaf(program: Command): void {
  withContextOptions(
    program
      .command('waf')
      .description("show or change the service's edge policy: rate limit, body size, IP and path rules")
      .option('--rate-limit <n|off>', 'requests per client IP per window')
      .option('--window <seconds>', 'rate-limit window in seconds (default 60)')
      .option('--max-body-size <size|off>', 'largest request body, like 1048576 or 10mb')
      .option('--allow-ip <ip/cidr>', 'only these may reach the service (repeat; replaces the list)', collect)
      .option('--deny-ip <ip/cidr>', 'refuse these (repeat; replaces the list)', collect)
      .option('--deny-path <prefix>', 'answer 403 under this path (repeat; replaces the list)', collect)
      .option('--clear', 'remove every setting made here (railway.toml [edge] keys stay)')
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (opts: WafFlags) => {
    const t = resolveTarget(contextFlags(opts));
    const client = makeClient();
    const patch: Record<string, unknown> = {};
    if (opts.clear) {
      for (const k of EDGE_KEYS) {
        patch[k] = null;
      }
    }
    if (opts.rateLimit !== undefined) patch.rateLimit = offOr(opts.rateLimit, numberOrText);
    if (opts.window !== undefined) patch.rateLimitWindowSeconds = numberOrText(opts.window);
    if (opts.maxBodySize !== undefined) patch.maxBodySize = offOr(opts.maxBodySize, numberOrText);
    if (opts.allowIp) patch.allowIps = opts.allowIp;
    if (opts.denyIp) patch.denyIps = opts.denyIp;
    if (opts.denyPath) patch.denyPaths = opts.denyPath;
    const changing = Object.keys(patch).length > 0;
    const v = changing ? await client.setEdgePolicy(t, patch) : await client.edgePolicy(t);
    if (opts.json) {
      printJson(v);
      return;
    }
    if (changing) print(`Edge policy of ${t.service} (${t.environment}) updated; the edge applies it now.`);
    show(v);
  });
}
