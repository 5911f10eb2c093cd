/**
 * Reference resolution (railway-compat §2.1). A variable is a node owned by a service or by the
 * shared scope (`owner === null`); its value's references are edges. Resolution is an explicit-stack
 * depth-first walk with memoisation, so deep chains cannot overflow the call stack and a cycle is
 * reported instead of looping.
 */
import { VariableReferenceError } from './errors.js';
import { hasReference, type ParseProblem, parseValue, type Reference, type Segment } from './parse.js';
import type { ResolveInput } from './types.js';

/**
 * Longest value a substitution may produce: Linux refuses any single environment string above
 * 128 KiB (MAX_ARG_STRLEN), and the cap stops `A=${{B}}${{B}}, B=${{C}}${{C}}, …` from doubling
 * its way through memory.
 */
export const MAX_RESOLVED_LENGTH = 128 * 1024;

/** `null` owner = the shared scope. */
type Owner = string | null;

type Lookup =
  | { kind: 'user'; owner: Owner; key: string; value: string }
  | { kind: 'provided'; service: string; value: string }
  | { kind: 'missing_service'; scope: string }
  | { kind: 'ambiguous_service'; scope: string; matches: string[] }
  | { kind: 'missing_variable'; service: string; key: string }
  | { kind: 'missing_shared'; key: string };

interface Frame {
  owner: Owner;
  key: string;
  id: string;
  segments: Segment[];
  next: number;
  out: string[];
  length: number;
}

function has(record: Record<string, string>, key: string): boolean {
  return Object.hasOwn(record, key) && typeof record[key] === 'string';
}

function nodeId(owner: Owner, key: string): string {
  return owner === null ? `\u0000shared\u0000${key}` : `${owner}\u0000${key}`;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Service names match exactly first, then case-insensitively when only one service fits. */
function findService(input: ResolveInput, scope: string): Lookup | string {
  if (Object.hasOwn(input.services, scope)) return scope;
  const lower = scope.toLowerCase();
  const matches = Object.keys(input.services)
    .filter((name) => name.toLowerCase() === lower)
    .sort(byName);
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) return { kind: 'ambiguous_service', scope, matches };
  return { kind: 'missing_service', scope };
}

function lookup(input: ResolveInput, from: Owner, ref: Reference): Lookup {
  let service: string;
  if (ref.scope === 'shared' || (ref.scope === null && from === null)) {
    return has(input.shared, ref.key)
      ? { kind: 'user', owner: null, key: ref.key, value: input.shared[ref.key] }
      : { kind: 'missing_shared', key: ref.key };
  }
  if (ref.scope === null) {
    service = from as string;
  } else {
    const found = findService(input, ref.scope);
    if (typeof found !== 'string') return found;
    service = found;
  }
  const vars = Object.hasOwn(input.services, service) ? input.services[service] : undefined;
  if (vars && has(vars.variables, ref.key)) {
    return { kind: 'user', owner: service, key: ref.key, value: vars.variables[ref.key] };
  }
  if (vars && has(vars.provided, ref.key)) {
    return { kind: 'provided', service, value: vars.provided[ref.key] };
  }
  return { kind: 'missing_variable', service, key: ref.key };
}

function segmentsOf(value: string): Segment[] | ParseProblem {
  if (!hasReference(value)) return [{ kind: 'text', text: value }];
  const parsed = parseValue(value);
  return parsed.ok ? parsed.segments : parsed.error;
}

class Resolver {
  private readonly memo = new Map<string, string>();
  private readonly input: ResolveInput;

  constructor(input: ResolveInput) {
    this.input = input;
  }

  /** `Variable KEY` for the deployed service, `Variable KEY of service "api"`, `Shared variable KEY`. */
  private holder(owner: Owner, key: string): string {
    if (owner === null) return `Shared variable ${key}`;
    if (owner === this.input.service) return `Variable ${key}`;
    return `Variable ${key} of service "${owner}"`;
  }

  /** Chain labels: `KEY` for the deployed service, `api.KEY`, `shared.KEY`. */
  private label(owner: Owner, key: string): string {
    if (owner === null) return `shared.${key}`;
    return owner === this.input.service ? key : `${owner}.${key}`;
  }

  private fail(owner: Owner, key: string, ref: Reference, found: Lookup): never {
    const holder = this.holder(owner, key);
    const base = { variable: key, service: owner, reference: ref.raw };
    switch (found.kind) {
      case 'missing_service':
        throw new VariableReferenceError(
          `${holder} references ${ref.raw}, but there is no service "${found.scope}" in this environment.`,
          { ...base, problem: 'missing_service' },
        );
      case 'ambiguous_service':
        throw new VariableReferenceError(
          `${holder} references ${ref.raw}, but "${found.scope}" matches several services (${found.matches.join(', ')}); use the exact service name.`,
          { ...base, problem: 'ambiguous_service' },
        );
      case 'missing_variable':
        throw new VariableReferenceError(
          `${holder} references ${ref.raw}, but service "${found.service}" has no variable ${found.key}${hintOf(this.input, found.service)}.`,
          { ...base, problem: 'missing_variable' },
        );
      case 'missing_shared':
        throw new VariableReferenceError(
          `${holder} references ${ref.raw}, but there is no shared variable ${found.key}.`,
          { ...base, problem: 'missing_shared' },
        );
      default:
        throw new Error(`unexpected lookup ${found.kind}`);
    }
  }

  private frame(owner: Owner, key: string, value: string): Frame {
    const segments = segmentsOf(value);
    if (!Array.isArray(segments)) {
      const holder = this.holder(owner, key);
      const message =
        segments.problem === 'unsupported'
          ? `${holder} uses ${segments.raw}, ${segments.detail}.`
          : `${holder} has a malformed reference ${segments.raw}: ${segments.detail}.`;
      throw new VariableReferenceError(message, {
        problem: segments.problem,
        variable: key,
        service: owner,
        reference: segments.raw,
      });
    }
    return { owner, key, id: nodeId(owner, key), segments, next: 0, out: [], length: 0 };
  }

  private append(frame: Frame, text: string): void {
    frame.out.push(text);
    frame.length += text.length;
    if (frame.length > MAX_RESOLVED_LENGTH && frame.segments.length > 1) {
      throw new VariableReferenceError(
        `${this.holder(frame.owner, frame.key)} is longer than ${MAX_RESOLVED_LENGTH} characters once its references are resolved; shorten it.`,
        { problem: 'too_long', variable: frame.key, service: frame.owner },
      );
    }
  }

  /**
   * `PORT=${{PORT}}` (Railway's own .env examples write this): a variable naming itself means the value
   * Berth provides under that name, as `PATH=$PATH:…` does in a shell. Without one it is a cycle.
   */
  private shadowedProvided(top: Frame, found: { owner: Owner; key: string }): string | null {
    if (found.owner === null || found.owner !== top.owner || found.key !== top.key) return null;
    const provided = this.input.services[found.owner]?.provided;
    return provided && has(provided, found.key) ? provided[found.key] : null;
  }

  resolve(owner: Owner, key: string, value: string): string {
    const cached = this.memo.get(nodeId(owner, key));
    if (cached !== undefined) return cached;
    const stack: Frame[] = [this.frame(owner, key, value)];
    const active = new Map<string, number>([[stack[0].id, 0]]);
    let result = '';
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next === top.segments.length) {
        const done = top.out.join('');
        this.memo.set(top.id, done);
        active.delete(top.id);
        stack.pop();
        if (stack.length > 0) this.append(stack[stack.length - 1], done);
        else result = done;
        continue;
      }
      const segment = top.segments[top.next++];
      if (segment.kind === 'text') {
        this.append(top, segment.text);
        continue;
      }
      const found = lookup(this.input, top.owner, segment.ref);
      if (found.kind === 'provided') {
        this.append(top, found.value);
        continue;
      }
      if (found.kind !== 'user') this.fail(top.owner, top.key, segment.ref, found);
      const shadowed = this.shadowedProvided(top, found);
      if (shadowed !== null) {
        this.append(top, shadowed);
        continue;
      }
      const id = nodeId(found.owner, found.key);
      const memoised = this.memo.get(id);
      if (memoised !== undefined) {
        this.append(top, memoised);
        continue;
      }
      const at = active.get(id);
      if (at !== undefined) {
        const chain = stack.slice(at).map((f) => this.label(f.owner, f.key));
        chain.push(this.label(found.owner, found.key));
        throw new VariableReferenceError(
          `Variables reference each other in a cycle: ${chain.join(' → ')}; break the cycle.`,
          { problem: 'cycle', variable: top.key, service: top.owner, cycle: chain },
        );
      }
      active.set(id, stack.length);
      stack.push(this.frame(found.owner, found.key, found.value));
    }
    return result;
  }
}

/**
 * The deployed service's own variables with every `${{…}}` reference substituted. Provided
 * variables are reachable by reference but not added. Variables are resolved in name order, so the
 * first error reported is always the same one. Only variables actually reached are resolved: a
 * broken shared variable nobody references does not block a deploy. Throws VariableReferenceError.
 */
export function resolveVariables(input: ResolveInput): Record<string, string> {
  if (!Object.hasOwn(input.services, input.service)) {
    throw new Error(`resolveVariables: service "${input.service}" is not in input.services`);
  }
  const own = input.services[input.service].variables;
  const resolver = new Resolver(input);
  const out: Record<string, string> = {};
  for (const key of Object.keys(own).sort(byName)) {
    if (!has(own, key)) continue;
    out[key] = resolver.resolve(input.service, key, own[key]);
  }
  return out;
}

/**
 * Other services whose variables `service`'s variables reach, directly, through shared variables or
 * through other services' variables (transitively), sorted by name. For deploy ordering only:
 * malformed, missing and cyclic references are skipped here (resolveVariables reports them).
 */
export function referencedServices(service: string, input: ResolveInput): string[] {
  if (!Object.hasOwn(input.services, service)) return [];
  const found = new Set<string>();
  const seen = new Set<string>();
  const queue: { owner: Owner; value: string }[] = [];
  const own = input.services[service].variables;
  for (const key of Object.keys(own)) {
    if (!has(own, key)) continue;
    seen.add(nodeId(service, key));
    queue.push({ owner: service, value: own[key] });
  }
  while (queue.length > 0) {
    const { owner, value } = queue.pop() as { owner: Owner; value: string };
    if (!hasReference(value)) continue;
    const parsed = parseValue(value);
    if (!parsed.ok) continue;
    for (const segment of parsed.segments) {
      if (segment.kind !== 'ref') continue;
      const target = lookup(input, owner, segment.ref);
      if (target.kind === 'provided') {
        found.add(target.service);
      } else if (target.kind === 'user') {
        if (target.owner !== null) found.add(target.owner);
        const id = nodeId(target.owner, target.key);
        if (seen.has(id)) continue;
        seen.add(id);
        queue.push({ owner: target.owner, value: target.value });
      }
    }
  }
  found.delete(service);
  return [...found].sort(byName);
}

/** `; <why>` when the referenced service says why its provided variables are missing (a database not here). */
function hintOf(input: ResolveInput, service: string): string {
  const hint = input.services[service]?.missingHint;
  return hint ? `; ${hint}` : '';
}
