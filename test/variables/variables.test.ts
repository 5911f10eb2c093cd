// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Railway `${{…}}` references.
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import {
  deployOrder,
  isSecretName,
  MAX_RESOLVED_LENGTH,
  makeRedactor,
  type ResolveInput,
  referencedServices,
  resolveVariables,
  type ServiceVariables,
  secretPartsOf,
  VariableReferenceError,
} from '../../src/core/variables/index.js';

type Services = Record<string, Partial<ServiceVariables>>;

function input(service: string, services: Services, shared: Record<string, string> = {}): ResolveInput {
  const full: Record<string, ServiceVariables> = {};
  for (const [name, s] of Object.entries(services)) {
    full[name] = { variables: s.variables ?? {}, provided: s.provided ?? {} };
  }
  return { service, services: full, shared };
}

function resolve(service: string, services: Services, shared: Record<string, string> = {}) {
  return resolveVariables(input(service, services, shared));
}

function errorOf(fn: () => unknown): VariableReferenceError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VariableReferenceError);
    return err as VariableReferenceError;
  }
  throw new Error('expected a VariableReferenceError');
}

function messageOf(service: string, services: Services, shared: Record<string, string> = {}): string {
  return errorOf(() => resolve(service, services, shared)).message;
}

describe('resolveVariables: syntax', () => {
  it('leaves values without references untouched', () => {
    expect(resolve('web', { web: { variables: { A: 'plain', B: '' } } })).toEqual({ A: 'plain', B: '' });
  });

  it('resolves ${{shared.KEY}}', () => {
    expect(resolve('web', { web: { variables: { A: '${{shared.REGION}}' } } }, { REGION: 'eu' })).toEqual({
      A: 'eu',
    });
  });

  it('resolves ${{Service.KEY}}', () => {
    const out = resolve('web', {
      web: { variables: { DATABASE_URL: '${{db.DATABASE_URL}}' } },
      db: { variables: { DATABASE_URL: 'postgres://db' } },
    });
    expect(out).toEqual({ DATABASE_URL: 'postgres://db' });
  });

  it('resolves ${{KEY}} from the same service: its own variables first, then provided ones', () => {
    const out = resolve('web', {
      web: {
        variables: { A: '${{B}}', B: 'own', C: '${{RAILWAY_SERVICE_NAME}}', D: '${{PORT}}', PORT: '3000' },
        provided: { RAILWAY_SERVICE_NAME: 'web', PORT: '8080' },
      },
    });
    expect(out).toEqual({ A: 'own', B: 'own', C: 'web', D: '3000', PORT: '3000' });
  });

  it('allows spaces inside the braces', () => {
    const out = resolve(
      'web',
      {
        web: { variables: { A: '${{ shared.X }}', B: '${{  db.Y  }}', C: '${{ A }}' } },
        db: { variables: { Y: 'y' } },
      },
      { X: 'x' },
    );
    expect(out).toEqual({ A: 'x', B: 'y', C: 'x' });
  });

  it('mixes references with literal text, several per value', () => {
    const out = resolve('web', {
      web: { variables: { URL: 'postgres://${{db.USER}}:${{db.PASSWORD}}@host:${{db.PORT}}/app?x=1' } },
      db: { variables: { USER: 'u', PASSWORD: 'p', PORT: '5432' } },
    });
    expect(out.URL).toBe('postgres://u:p@host:5432/app?x=1');
  });

  it('handles adjacent references and the same reference twice', () => {
    const out = resolve('web', { web: { variables: { A: '${{B}}${{B}}-${{C}}${{B}}', B: 'b', C: 'c' } } });
    expect(out.A).toBe('bb-cb');
  });

  it('leaves a lone $, $VAR and ${VAR} untouched', () => {
    const vars = {
      A: 'cost $5',
      B: 'node $ENTRY',
      C: 'echo ${HOME}/x',
      D: '$',
      E: '${',
      F: '${ {x}}',
      G: '$${{H}}',
      H: 'h',
    };
    expect(resolve('web', { web: { variables: vars } })).toEqual({ ...vars, G: '$h' });
  });

  it('keeps text that merely contains braces', () => {
    const out = resolve('web', { web: { variables: { J: '{"a":{"b":1}}', K: 'x}}y' } } });
    expect(out).toEqual({ J: '{"a":{"b":1}}', K: 'x}}y' });
  });

  it('does not add provided variables to the output', () => {
    const out = resolve('web', {
      web: { variables: { A: 'a' }, provided: { RAILWAY_PUBLIC_DOMAIN: 'web.example' } },
    });
    expect(out).toEqual({ A: 'a' });
  });

  it('reads variable values literally when they look like object keys', () => {
    const out = resolve('web', { web: { variables: { A: '${{toString}}', toString: 'own' } } });
    expect(out.A).toBe('own');
    expect(messageOf('web', { web: { variables: { A: '${{constructor}}' } } })).toBe(
      'Variable A references ${{constructor}}, but service "web" has no variable constructor.',
    );
  });
});

describe('resolveVariables: services and nesting', () => {
  it('reaches another service’s provided variables', () => {
    const out = resolve('web', {
      web: {
        variables: {
          API: 'https://${{api.RAILWAY_PUBLIC_DOMAIN}}',
          INTERNAL: 'http://${{api.RAILWAY_PRIVATE_DOMAIN}}:${{api.PORT}}',
        },
      },
      api: {
        variables: { PORT: '4000' },
        provided: {
          RAILWAY_PUBLIC_DOMAIN: 'api.example.com',
          RAILWAY_PRIVATE_DOMAIN: 'api.railway.internal',
          PORT: '8080',
        },
      },
    });
    expect(out).toEqual({ API: 'https://api.example.com', INTERNAL: 'http://api.railway.internal:4000' });
  });

  it('resolves nested references in the context of the service that owns them', () => {
    const out = resolve('web', {
      web: { variables: { API_URL: '${{api.URL}}/v1' }, provided: { RAILWAY_PUBLIC_DOMAIN: 'web.example' } },
      api: {
        variables: { URL: 'https://${{RAILWAY_PUBLIC_DOMAIN}}' },
        provided: { RAILWAY_PUBLIC_DOMAIN: 'api.example' },
      },
    });
    expect(out.API_URL).toBe('https://api.example/v1');
  });

  it('names the shared variable holding a broken reference deep in a chain', () => {
    expect(
      messageOf(
        'web',
        {
          web: { variables: { A: '[${{api.B}}]' } },
          api: { variables: { B: '${{shared.C}}+${{HOST}}', HOST: '${{db.RAILWAY_PRIVATE_DOMAIN}}' } },
          db: { provided: { RAILWAY_PRIVATE_DOMAIN: 'db.internal' } },
        },
        { C: '${{D}}!', D: '${{db.NAME}}' },
      ),
    ).toBe('Shared variable D references ${{db.NAME}}, but service "db" has no variable NAME.');
  });

  it('resolves shared values: ${{KEY}} is another shared variable, services are reachable', () => {
    const out = resolve(
      'web',
      {
        web: { variables: { A: '[${{api.B}}]', S: '${{shared.C}}' } },
        api: { variables: { B: '${{shared.C}}+${{HOST}}', HOST: '${{db.RAILWAY_PRIVATE_DOMAIN}}' } },
        db: { variables: { NAME: 'app' }, provided: { RAILWAY_PRIVATE_DOMAIN: 'db.internal' } },
      },
      { C: '${{D}}!', D: '${{db.NAME}}@${{ db.RAILWAY_PRIVATE_DOMAIN }}' },
    );
    expect(out).toEqual({ A: '[app@db.internal!+db.internal]', S: 'app@db.internal!' });
  });

  it('lets ${{Self.KEY}} name the deployed service itself', () => {
    expect(resolve('web', { web: { variables: { A: '${{web.B}}', B: 'b' } } })).toEqual({ A: 'b', B: 'b' });
  });

  it('matches service names case-insensitively when only one service fits', () => {
    const out = resolve('web', {
      web: { variables: { DATABASE_URL: '${{postgres.DATABASE_URL}}', R: '${{REDIS.URL}}' } },
      Postgres: { variables: { DATABASE_URL: 'postgres://pg' } },
      Redis: { variables: { URL: 'redis://r' } },
    });
    expect(out).toEqual({ DATABASE_URL: 'postgres://pg', R: 'redis://r' });
  });

  it('prefers the exact service name over case-insensitive ones', () => {
    const out = resolve('web', {
      web: { variables: { A: '${{Db.X}}' } },
      db: { variables: { X: 'lower' } },
      Db: { variables: { X: 'exact' } },
    });
    expect(out.A).toBe('exact');
  });

  it('rejects an ambiguous case-insensitive service name', () => {
    expect(
      messageOf('web', {
        web: { variables: { A: '${{DB.X}}' } },
        db: { variables: { X: '1' } },
        Db: { variables: { X: '2' } },
      }),
    ).toBe(
      'Variable A references ${{DB.X}}, but "DB" matches several services (Db, db); use the exact service name.',
    );
  });

  it('supports service names with spaces, dashes and dots', () => {
    const out = resolve('web', {
      web: { variables: { A: '${{my api.X}}', B: '${{ example.com.Y }}', C: '${{redis-1.Z}}' } },
      'my api': { variables: { X: 'x' } },
      'example.com': { variables: { Y: 'y' } },
      'redis-1': { variables: { Z: 'z' } },
    });
    expect(out).toEqual({ A: 'x', B: 'y', C: 'z' });
  });

  it('does not resolve variables nobody references, so their errors do not block a deploy', () => {
    const out = resolve(
      'web',
      { web: { variables: { A: 'a' } }, api: { variables: { BROKEN: '${{nope.X}}' } } },
      { BAD: '${{missing.Y}}', ALSO: '${{' },
    );
    expect(out).toEqual({ A: 'a' });
  });

  it('resolves a long non-cyclic chain without overflowing the stack', () => {
    const variables: Record<string, string> = { V0: 'end' };
    for (let i = 1; i <= 20_000; i++) variables[`V${i}`] = '${{V' + (i - 1) + '}}';
    const out = resolve('web', { web: { variables } });
    expect(out.V20000).toBe('end');
  });

  it('stops values that double through references before they exhaust memory', () => {
    const variables: Record<string, string> = { V0: 'xxxxxxxxxxxxxxxx' };
    for (let i = 1; i <= 40; i++) variables[`V${i}`] = '${{V' + (i - 1) + '}}${{V' + (i - 1) + '}}';
    const err = errorOf(() => resolve('web', { web: { variables } }));
    expect(err.problem).toBe('too_long');
    expect(err.message).toMatch(
      new RegExp(
        `^Variable V\\d+ is longer than ${MAX_RESOLVED_LENGTH} characters once its references are resolved; shorten it\\.$`,
      ),
    );
  });

  it('throws a plain Error when the deployed service is missing from the input', () => {
    expect(() => resolveVariables({ service: 'x', services: {}, shared: {} })).toThrow(
      /not in input\.services/,
    );
  });
});

describe('resolveVariables: errors', () => {
  it('is a UserError with code invalid_reference', () => {
    const err = errorOf(() =>
      resolve('web', { web: { variables: { DATABASE_URL: '${{Postgres.DATABASE_URL}}' } } }),
    );
    expect(err).toBeInstanceOf(UserError);
    expect(err.code).toBe('invalid_reference');
    expect(err.status).toBe(400);
    expect(err.name).toBe('VariableReferenceError');
    expect(err.problem).toBe('missing_service');
    expect(err.variable).toBe('DATABASE_URL');
    expect(err.service).toBe('web');
    expect(err.reference).toBe('${{Postgres.DATABASE_URL}}');
  });

  it('names a missing service', () => {
    expect(messageOf('web', { web: { variables: { DATABASE_URL: '${{Postgres.DATABASE_URL}}' } } })).toBe(
      'Variable DATABASE_URL references ${{Postgres.DATABASE_URL}}, but there is no service "Postgres" in this environment.',
    );
  });

  it('names a missing variable of another service', () => {
    expect(
      messageOf('web', {
        web: { variables: { DATABASE_URL: '${{Postgres.DATABASE_URL}}' } },
        Postgres: { variables: { PGHOST: 'h' } },
      }),
    ).toBe(
      'Variable DATABASE_URL references ${{Postgres.DATABASE_URL}}, but service "Postgres" has no variable DATABASE_URL.',
    );
  });

  it('says why a database provides nothing in this environment', () => {
    const err = errorOf(() =>
      resolveVariables({
        service: 'web',
        services: {
          web: { variables: { DATABASE_URL: '${{Postgres.DATABASE_URL}}' }, provided: {} },
          Postgres: {
            variables: {},
            provided: {},
            missingHint: 'Postgres is not provisioned in this environment',
          },
        },
        shared: {},
      }),
    );
    expect(err.message).toBe(
      'Variable DATABASE_URL references ${{Postgres.DATABASE_URL}}, but service "Postgres" has no variable DATABASE_URL; Postgres is not provisioned in this environment.',
    );
  });

  it('names the matched service when the name matched case-insensitively', () => {
    expect(
      messageOf('web', { web: { variables: { A: '${{postgres.NOPE}}' } }, Postgres: { variables: {} } }),
    ).toBe('Variable A references ${{postgres.NOPE}}, but service "Postgres" has no variable NOPE.');
  });

  it('names a missing variable of the same service', () => {
    expect(messageOf('web', { web: { variables: { A: 'x${{ B }}' } } })).toBe(
      'Variable A references ${{ B }}, but service "web" has no variable B.',
    );
  });

  it('names a missing shared variable', () => {
    expect(messageOf('web', { web: { variables: { X: '${{shared.KEY}}' } } })).toBe(
      'Variable X references ${{shared.KEY}}, but there is no shared variable KEY.',
    );
  });

  it('names the variable holding a nested broken reference, with its owner', () => {
    expect(
      messageOf('web', {
        web: { variables: { A: '${{api.URL}}' } },
        api: { variables: { URL: '${{db.HOST}}' } },
      }),
    ).toBe(
      'Variable URL of service "api" references ${{db.HOST}}, but there is no service "db" in this environment.',
    );
    expect(messageOf('web', { web: { variables: { A: '${{shared.S}}' } } }, { S: '${{T}}' })).toBe(
      'Shared variable S references ${{T}}, but there is no shared variable T.',
    );
    const err = errorOf(() =>
      resolve('web', { web: { variables: { A: '${{shared.S}}' } } }, { S: '${{db.X}}' }),
    );
    expect(err.service).toBeNull();
    expect(err.variable).toBe('S');
  });

  it('does not give a shared variable a "self" service', () => {
    expect(
      messageOf(
        'web',
        { web: { variables: { A: '${{shared.S}}' }, provided: { RAILWAY_PUBLIC_DOMAIN: 'w' } } },
        { S: '${{RAILWAY_PUBLIC_DOMAIN}}' },
      ),
    ).toBe(
      'Shared variable S references ${{RAILWAY_PUBLIC_DOMAIN}}, but there is no shared variable RAILWAY_PUBLIC_DOMAIN.',
    );
  });

  it('reports the first error in variable name order, whatever the input order', () => {
    const variables = { Z: '${{nope.Z}}', B: '${{shared.B}}', A2: '${{shared.A2}}' };
    expect(messageOf('web', { web: { variables } })).toBe(
      'Variable A2 references ${{shared.A2}}, but there is no shared variable A2.',
    );
  });

  it('rejects an unterminated reference', () => {
    expect(messageOf('web', { web: { variables: { A: 'x ${{shared.KEY' } } })).toBe(
      'Variable A has a malformed reference ${{shared.KEY: it has no closing }}.',
    );
    expect(messageOf('web', { web: { variables: { A: '${{B ${{C}}' } } })).toBe(
      'Variable A has a malformed reference ${{B: it has no closing }}.',
    );
    expect(messageOf('web', { web: { variables: { A: 'ok ${{B}} then ${{' } } })).toBe(
      'Variable A has a malformed reference ${{: it has no closing }}.',
    );
  });

  it('shortens a long unterminated reference', () => {
    const err = errorOf(() => resolve('web', { web: { variables: { A: '${{' + 'x'.repeat(100) } } }));
    expect(err.problem).toBe('malformed');
    expect(err.message).toBe(
      `Variable A has a malformed reference \${{${'x'.repeat(37)}…: it has no closing }}.`,
    );
  });

  it('rejects an empty reference', () => {
    expect(messageOf('web', { web: { variables: { A: '${{ }}' } } })).toBe(
      'Variable A has a malformed reference ${{ }}: it names no variable.',
    );
    expect(messageOf('web', { web: { variables: { A: '${{}}' } } })).toBe(
      'Variable A has a malformed reference ${{}}: it names no variable.',
    );
  });

  it('rejects references with an empty service or key', () => {
    for (const ref of ['${{api.}}', '${{.KEY}}', '${{shared.}}', '${{a b}}', '${{api.{x}}']) {
      const err = errorOf(() => resolve('web', { web: { variables: { A: ref } } }));
      expect(err.problem).toBe('malformed');
      expect(err.message).toContain('has a malformed reference');
      expect(err.message).toContain('write ${{KEY}}, ${{shared.KEY}} or ${{Service.KEY}}.');
    }
  });

  it('reports a malformed reference inside a referenced variable', () => {
    expect(
      messageOf('web', { web: { variables: { A: '${{api.B}}' } }, api: { variables: { B: '${{ }}' } } }),
    ).toBe('Variable B of service "api" has a malformed reference ${{ }}: it names no variable.');
  });

  it('reports template functions as unsupported', () => {
    const err = errorOf(() => resolve('web', { web: { variables: { SECRET: '${{ secret(32) }}' } } }));
    expect(err.problem).toBe('unsupported');
    expect(err.message).toBe(
      'Variable SECRET uses ${{ secret(32) }}, a template function Berth does not support; set the value directly.',
    );
    expect(messageOf('web', { web: { variables: { ID: '${{randomInt()}}' } } })).toBe(
      'Variable ID uses ${{randomInt()}}, a template function Berth does not support; set the value directly.',
    );
  });
});

describe('resolveVariables: cycles', () => {
  it('reports a self-reference', () => {
    const err = errorOf(() => resolve('web', { web: { variables: { A: 'x${{A}}' } } }));
    expect(err.problem).toBe('cycle');
    expect(err.cycle).toEqual(['A', 'A']);
    expect(err.message).toBe('Variables reference each other in a cycle: A → A; break the cycle.');
  });

  it('resolves a variable naming itself to the provided value of that name (PORT=${{PORT}})', () => {
    const out = resolve('web', {
      web: {
        variables: { PORT: '${{PORT}}', URL: 'http://${{RAILWAY_PRIVATE_DOMAIN}}:${{web.PORT}}' },
        provided: { PORT: '10001', RAILWAY_PRIVATE_DOMAIN: 'web.internal' },
      },
    });
    expect(out).toEqual({ PORT: '10001', URL: 'http://web.internal:10001' });
  });

  it('reports a self-reference through the service name', () => {
    expect(messageOf('web', { web: { variables: { A: '${{web.A}}' } } })).toBe(
      'Variables reference each other in a cycle: A → A; break the cycle.',
    );
  });

  it('reports a 2-cycle', () => {
    expect(messageOf('web', { web: { variables: { A: '${{B}}', B: '${{A}}' } } })).toBe(
      'Variables reference each other in a cycle: A → B → A; break the cycle.',
    );
  });

  it('reports a cycle reached through a chain, listing only the cycle', () => {
    expect(
      messageOf('web', { web: { variables: { A: '${{B}}', B: '${{C}}', C: '${{D}}', D: '${{C}}' } } }),
    ).toBe('Variables reference each other in a cycle: C → D → C; break the cycle.');
  });

  it('reports a 3-service cycle', () => {
    expect(
      messageOf('a', {
        a: { variables: { X: '${{b.Y}}' } },
        b: { variables: { Y: '${{c.Z}}' } },
        c: { variables: { Z: 'z-${{a.X}}' } },
      }),
    ).toBe('Variables reference each other in a cycle: X → b.Y → c.Z → X; break the cycle.');
  });

  it('reports a cycle among other services and shared variables', () => {
    expect(
      messageOf(
        'web',
        { web: { variables: { A: '${{api.B}}' } }, api: { variables: { B: '${{shared.S}}' } } },
        { S: '${{T}}', T: '${{api.B}}' },
      ),
    ).toBe(
      'Variables reference each other in a cycle: api.B → shared.S → shared.T → api.B; break the cycle.',
    );
  });

  it('does not mistake a diamond for a cycle', () => {
    const out = resolve('web', {
      web: { variables: { A: '${{B}}${{C}}', B: '${{D}}', C: '${{D}}', D: 'd' } },
    });
    expect(out.A).toBe('dd');
  });
});

describe('referencedServices', () => {
  it('lists services referenced directly, through shared variables and transitively', () => {
    const inp = input(
      'web',
      {
        web: {
          variables: {
            A: '${{api.URL}}',
            B: '${{shared.S}}',
            C: '${{ web.X }}',
            X: 'x',
            P: '${{Cache.RAILWAY_PRIVATE_DOMAIN}}',
          },
        },
        api: { variables: { URL: '${{auth.HOST}}', UNRELATED: '${{billing.X}}' } },
        auth: { variables: { HOST: 'h' } },
        db: { variables: { U: 'u' } },
        billing: { variables: { X: 'x' } },
        cache: { provided: { RAILWAY_PRIVATE_DOMAIN: 'cache.internal' } },
        idle: {},
      },
      { S: '${{db.U}}' },
    );
    expect(referencedServices('web', inp)).toEqual(['api', 'auth', 'cache', 'db']);
  });

  it('skips broken references and survives cycles', () => {
    const inp = input('a', {
      a: { variables: { X: '${{b.Y}}', BAD: '${{', MISSING: '${{nope.K}}', FN: '${{secret()}}' } },
      b: { variables: { Y: '${{a.X}}' } },
    });
    expect(referencedServices('a', inp)).toEqual(['b']);
    expect(referencedServices('b', inp)).toEqual(['a']);
    expect(referencedServices('unknown', inp)).toEqual([]);
  });
});

describe('deployOrder', () => {
  const graph = (edges: Record<string, string[]>) => (s: string) => edges[s] ?? [];

  it('puts independent services in one batch, in input order', () => {
    expect(deployOrder(['c', 'a', 'b'], graph({}))).toEqual([['c', 'a', 'b']]);
  });

  it('orders a chain', () => {
    expect(deployOrder(['web', 'api', 'db'], graph({ web: ['api'], api: ['db'] }))).toEqual([
      ['db'],
      ['api'],
      ['web'],
    ]);
  });

  it('orders a diamond', () => {
    expect(
      deployOrder(
        ['top', 'left', 'right', 'base'],
        graph({ top: ['left', 'right'], left: ['base'], right: ['base'] }),
      ),
    ).toEqual([['base'], ['left', 'right'], ['top']]);
  });

  it('places a service after its latest dependency', () => {
    expect(deployOrder(['a', 'b', 'c'], graph({ a: ['b', 'c'], b: ['c'] }))).toEqual([['c'], ['b'], ['a']]);
  });

  it('puts a cycle in one batch', () => {
    expect(deployOrder(['a', 'b'], graph({ a: ['b'], b: ['a'] }))).toEqual([['a', 'b']]);
  });

  it('orders around a cycle', () => {
    const order = deployOrder(
      ['web', 'x', 'y', 'z', 'db', 'worker'],
      graph({ web: ['x'], x: ['y'], y: ['z', 'db'], z: ['x'], worker: ['web'] }),
    );
    expect(order).toEqual([['db'], ['x', 'y', 'z'], ['web'], ['worker']]);
  });

  it('ignores self-dependencies, unknown services and duplicates', () => {
    expect(deployOrder(['a', 'b', 'a'], graph({ a: ['a', 'ghost'], b: ['a', 'a'] }))).toEqual([['a'], ['b']]);
  });

  it('handles two separate cycles depending on each other', () => {
    const order = deployOrder(['a', 'b', 'c', 'd'], graph({ a: ['b'], b: ['a', 'c'], c: ['d'], d: ['c'] }));
    expect(order).toEqual([
      ['c', 'd'],
      ['a', 'b'],
    ]);
  });

  it('returns no batches for no services', () => {
    expect(deployOrder([], graph({}))).toEqual([]);
  });

  it('handles a long chain without overflowing the stack', () => {
    const names = Array.from({ length: 20_000 }, (_, i) => `s${i}`);
    const order = deployOrder(names, (s) => (s === 's0' ? [] : [`s${Number(s.slice(1)) - 1}`]));
    expect(order).toHaveLength(20_000);
    expect(order[0]).toEqual(['s0']);
    expect(order[19_999]).toEqual(['s19999']);
  });

  it('works with referencedServices', () => {
    const inp = input('web', {
      web: { variables: { API: '${{api.URL}}' } },
      api: { variables: { URL: 'http://${{RAILWAY_PRIVATE_DOMAIN}}', DB: '${{Postgres.DATABASE_URL}}' } },
      Postgres: { variables: { DATABASE_URL: 'pg' } },
    });
    expect(deployOrder(['web', 'api', 'Postgres'], (s) => referencedServices(s, inp))).toEqual([
      ['Postgres'],
      ['api'],
      ['web'],
    ]);
  });
});

describe('makeRedactor', () => {
  it('replaces every occurrence of every secret', () => {
    const redact = makeRedactor(['hunter22', 'tok_abcdef']);
    expect(redact('pw=hunter22 token=tok_abcdef again hunter22')).toBe('pw=*** token=*** again ***');
  });

  it('returns text without secrets unchanged', () => {
    const redact = makeRedactor(['hunter22']);
    expect(redact('nothing here')).toBe('nothing here');
    expect(makeRedactor([])('anything')).toBe('anything');
  });

  it('ignores values shorter than 4 characters', () => {
    const redact = makeRedactor(['abc', '', 'a', 'abcd']);
    expect(redact('abc a abcd')).toBe('abc a ***');
    expect(makeRedactor(['1', 'no'])('1 no')).toBe('1 no');
  });

  it('covers a secret containing another fully (longest first)', () => {
    const redact = makeRedactor(['pass', 'password123']);
    expect(redact('x password123 y pass')).toBe('x *** y ***');
  });

  it('covers partially overlapping secrets fully', () => {
    const redact = makeRedactor(['abcdef', 'defghi']);
    expect(redact('xxabcdefghiyy')).toBe('xx***yy');
    expect(redact('abcdef defghi')).toBe('*** ***');
    const chain = makeRedactor(['aaab', 'abbb', 'bbbc']);
    expect(chain('<aaabbbc>')).toBe('<***>');
  });

  it('treats regex special characters literally', () => {
    const secrets = ['a.b*c+d', '(x|y)?', '[z]{2}^$', 'back\\slash', 'sl/ash'];
    const redact = makeRedactor(secrets);
    expect(redact('a.b*c+d (x|y)? [z]{2}^$ back\\slash sl/ash')).toBe('*** *** *** *** ***');
    expect(redact('aXb*c+d xy zz')).toBe('aXb*c+d xy zz');
  });

  it('redacts secrets as they appear inside JSON strings', () => {
    const redact = makeRedactor(['p"a\\ss']);
    expect(redact(JSON.stringify({ password: 'p"a\\ss' }))).toBe('{"password":"***"}');
  });

  it('redacts a secret stored with surrounding whitespace', () => {
    expect(makeRedactor(['  s3cr3t\n'])('value s3cr3t end')).toBe('value *** end');
  });

  it('is reusable across many lines', () => {
    const secrets = Array.from({ length: 200 }, (_, i) => `secret-${i}-value`);
    const redact = makeRedactor(secrets);
    for (let i = 0; i < 1000; i++) {
      expect(redact(`line ${i}: secret-${i % 200}-value ok`)).toBe(`line ${i}: *** ok`);
    }
  });
});

describe('isSecretName', () => {
  it.each([
    'SECRET_KEY_BASE',
    'JWT_SECRET',
    'clientSecret',
    'GITHUB_TOKEN',
    'AUTHTOKEN',
    'accessToken',
    'DB_PASSWORD',
    'PGPASSWORD',
    'MYSQL_PASSWD',
    'DB_PASS',
    'db-pass',
    'GPG_PASSPHRASE',
    'PRIVATE_KEY',
    'SSH_PRIVATE_KEY',
    'OPENAI_API_KEY',
    'apiKey',
    'STRIPE_APIKEY',
    'AWS_ACCESS_KEY_ID',
    'GOOGLE_APPLICATION_CREDENTIALS',
    'AUTH',
    'BASIC_AUTH',
    'AUTH_KEY',
    'AUTHORIZATION',
    'SENTRY_DSN',
    'DSN',
  ])('%s is secret', (name) => {
    expect(isSecretName(name)).toBe(true);
  });

  it.each([
    'PORT',
    'NODE_ENV',
    'DATABASE_URL',
    'RAILWAY_GIT_AUTHOR',
    'AUTHOR_NAME',
    'BYPASS_CACHE',
    'PASSPORT_STRATEGY',
    'MAX_TOKENS',
    'RAILWAY_PRIVATE_DOMAIN',
    'PUBLIC_KEYBOARD_LAYOUT',
    'COMPASS_URL',
  ])('%s is not secret', (name) => {
    expect(isSecretName(name)).toBe(false);
  });
});

describe('secretPartsOf', () => {
  it('returns the whole value for secret names', () => {
    expect(secretPartsOf('API_TOKEN', 'tok_123456')).toEqual(['tok_123456']);
  });

  it('returns nothing for ordinary names and values', () => {
    expect(secretPartsOf('NODE_ENV', 'production')).toEqual([]);
    expect(secretPartsOf('PUBLIC_URL', 'https://example.com/path')).toEqual([]);
    expect(secretPartsOf('SECRET', '')).toEqual([]);
  });

  it('returns only the password of a URL with credentials', () => {
    expect(secretPartsOf('DATABASE_URL', 'postgres://app:s3cret@db:5432/app')).toEqual(['s3cret']);
    expect(secretPartsOf('REDIS_URL', 'redis://default:r3d1s@redis.internal:6379')).toEqual(['r3d1s']);
  });

  it('ignores URLs with a user but no password, or no credentials', () => {
    expect(secretPartsOf('DATABASE_URL', 'postgres://app@db/app')).toEqual([]);
    expect(secretPartsOf('DATABASE_URL', 'postgres://app:@db/app')).toEqual([]);
    expect(secretPartsOf('HOME_URL', 'https://example.com/?q=a:b@c')).toEqual([]);
  });

  it('handles passwords containing @ and percent-encoding', () => {
    expect(secretPartsOf('DATABASE_URL', 'postgres://u:p@ss@db/app')).toEqual(['p@ss']);
    expect(secretPartsOf('DATABASE_URL', 'postgres://u:p%40ss%2Fw@db/app')).toEqual(['p%40ss%2Fw', 'p@ss/w']);
    expect(secretPartsOf('DATABASE_URL', 'postgres://u:bad%zz@db/app')).toEqual(['bad%zz']);
  });

  it('finds every URL password in a value, whatever the variable is called', () => {
    expect(secretPartsOf('MONGO_HOSTS', 'mongodb://a:pw1111@h1,h2/db and amqp://b:pw2222@mq')).toEqual([
      'pw1111',
      'pw2222',
    ]);
  });

  it('returns the whole value and the URL password for a secret-named URL', () => {
    expect(secretPartsOf('SENTRY_DSN', 'https://key:pass@sentry.io/1')).toEqual([
      'https://key:pass@sentry.io/1',
      'pass',
    ]);
  });

  it('also returns each line of a multi-line secret', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\nkqhkiG9w0BAQEF\n-----END PRIVATE KEY-----\n';
    expect(secretPartsOf('PRIVATE_KEY', pem)).toEqual([
      pem,
      '-----BEGIN PRIVATE KEY-----',
      'MIIEvQIBADANBg',
      'kqhkiG9w0BAQEF',
      '-----END PRIVATE KEY-----',
    ]);
  });

  it('skips trivial values of secret-looking names', () => {
    expect(secretPartsOf('AUTH_ENABLED', 'true')).toEqual([]);
    expect(secretPartsOf('BASIC_AUTH', 'off')).toEqual([]);
  });

  it('feeds makeRedactor', () => {
    const redact = makeRedactor([
      ...secretPartsOf('DATABASE_URL', 'postgres://app:s3cr3tpw@db/app'),
      ...secretPartsOf('STRIPE_SECRET_KEY', 'sk_live_123'),
    ]);
    expect(redact('connecting to postgres://app:s3cr3tpw@db/app with sk_live_123')).toBe(
      'connecting to postgres://app:***@db/app with ***',
    );
  });
});
