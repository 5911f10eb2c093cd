import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  defaultServiceConfig,
  type LoadConfigOptions,
  loadServiceConfig,
} from '../../src/core/config/index.js';
import { ConfigError } from '../../src/core/errors.js';
import { makeTmpDir } from '../helpers/tmp.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function sourceWith(files: Record<string, string>): string {
  const { dir, cleanup } = makeTmpDir('berth-config-');
  cleanups.push(cleanup);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

function load(files: Record<string, string>, opts: Partial<LoadConfigOptions> = {}) {
  return loadServiceConfig(sourceWith(files), { environment: 'production', ...opts });
}

function toml(text: string, opts: Partial<LoadConfigOptions> = {}) {
  return load({ 'railway.toml': text }, opts);
}

/** The ConfigError message thrown while loading `text` as railway.toml. */
function tomlError(text: string, opts: Partial<LoadConfigOptions> = {}): string {
  return errorOf(() => toml(text, opts));
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

const SEED_PYTHON = `[build]
builder = "nixpacks"

[deploy]
startCommand = "python -m alembic upgrade head && uvicorn backend.main:app --host 0.0.0.0 --port $PORT --workers 4"
healthcheckPath = "/health"
healthcheckTimeout = 300
restartPolicyType = "on_failure"
restartPolicyMaxRetries = 5
`;

const SEED_DOCKERFILE = `[build]
builder = "DOCKERFILE"
dockerfilePath = "backend/Dockerfile"

[deploy]
startCommand = "node dist/index.js"
healthcheckPath = "/health"
healthcheckTimeout = 30
restartPolicyType = "ON_FAILURE"
restartPolicyMaxRetries = 3

[[services]]
name = "api"
`;

const SEED_NODE = `[build]
builder = "NIXPACKS"
buildCommand = "npm run build"

[deploy]
startCommand = "npm run start:prod"
healthcheckPath = "/health"
healthcheckTimeout = 30
restartPolicyType = "ON_FAILURE"
restartPolicyMaxRetries = 5

[service]
internalPort = 3801
`;

const LEAF_KEYS = [
  'build.builder',
  'build.buildCommand',
  'build.watchPatterns',
  'build.dockerfilePath',
  'deploy.startCommand',
  'deploy.preDeployCommand',
  'deploy.healthcheckPath',
  'deploy.healthcheckTimeout',
  'deploy.restartPolicyType',
  'deploy.restartPolicyMaxRetries',
  'deploy.numReplicas',
  'deploy.cronSchedule',
  'deploy.sleepApplication',
  'deploy.sleepAfterSeconds',
  'deploy.overlapSeconds',
  'deploy.drainingSeconds',
  'deploy.workerStabilitySeconds',
  'deploy.singleton',
  'deploy.cronTimeoutSeconds',
  'deploy.memoryLimit',
  'deploy.cpuLimit',
  'deploy.pidsLimit',
  'deploy.minReplicas',
  'deploy.maxReplicas',
  'deploy.targetCPUPercent',
  'deploy.scaleUpWindowSeconds',
  'deploy.scaleDownWindowSeconds',
  'edge.rateLimit',
  'edge.rateLimitWindowSeconds',
  'edge.maxBodySize',
  'edge.allowIps',
  'edge.denyIps',
  'edge.denyPaths',
];

describe('no config file', () => {
  it('returns the defaults, all with default origins', () => {
    const loaded = load({ 'package.json': '{}' });
    expect(loaded.file).toBeNull();
    expect(loaded.warnings).toEqual([]);
    expect(loaded.config).toEqual(defaultServiceConfig());
    expect(Object.keys(loaded.origins).sort()).toEqual([...LEAF_KEYS].sort());
    for (const key of LEAF_KEYS) expect(loaded.origins[key]).toEqual({ source: 'default' });
  });

  it('defaults follow Railway', () => {
    expect(defaultServiceConfig()).toEqual({
      build: { builder: 'RAILPACK', buildCommand: null, watchPatterns: [], dockerfilePath: null },
      deploy: {
        startCommand: null,
        preDeployCommand: [],
        healthcheckPath: null,
        healthcheckTimeout: 300,
        restartPolicyType: 'ON_FAILURE',
        restartPolicyMaxRetries: 10,
        numReplicas: 1,
        cronSchedule: null,
        sleepApplication: false,
        // Berth extension: how long without a request before sleepApplication stops the replicas
        sleepAfterSeconds: 600,
        overlapSeconds: 0,
        drainingSeconds: 0,
        // Berth extensions (workers, singletons)
        workerStabilitySeconds: 3,
        singleton: false,
        cronTimeoutSeconds: 3600,
        // resource limits and autoscaling
        memoryLimit: null,
        cpuLimit: null,
        pidsLimit: null,
        minReplicas: null,
        maxReplicas: null,
        targetCPUPercent: null,
        scaleUpWindowSeconds: 60,
        scaleDownWindowSeconds: 300,
      },
      edge: {
        rateLimit: null,
        rateLimitWindowSeconds: 60,
        maxBodySize: null,
        allowIps: [],
        denyIps: [],
        denyPaths: [],
      },
    });
    expect(defaultServiceConfig()).not.toBe(defaultServiceConfig());
  });
});

describe('seed files from real repos', () => {
  it('parses the lowercase nixpacks/python seed', () => {
    const loaded = toml(SEED_PYTHON);
    expect(loaded.file).toBe('railway.toml');
    expect(loaded.warnings).toEqual([]);
    expect(loaded.config).toEqual({
      build: { builder: 'NIXPACKS', buildCommand: null, watchPatterns: [], dockerfilePath: null },
      deploy: {
        ...defaultServiceConfig().deploy,
        startCommand:
          'python -m alembic upgrade head && uvicorn backend.main:app --host 0.0.0.0 --port $PORT --workers 4',
        healthcheckPath: '/health',
        healthcheckTimeout: 300,
        restartPolicyType: 'ON_FAILURE',
        restartPolicyMaxRetries: 5,
      },
      edge: defaultServiceConfig().edge,
    });
    expect(loaded.origins['build.builder']).toEqual({ source: 'file', file: 'railway.toml' });
    expect(loaded.origins['deploy.healthcheckTimeout']).toEqual({ source: 'file', file: 'railway.toml' });
    expect(loaded.origins['deploy.numReplicas']).toEqual({ source: 'default' });
  });

  it('parses the Dockerfile seed and warns about [[services]]', () => {
    const loaded = toml(SEED_DOCKERFILE);
    expect(loaded.config.build).toEqual({
      builder: 'DOCKERFILE',
      buildCommand: null,
      watchPatterns: [],
      dockerfilePath: 'backend/Dockerfile',
    });
    expect(loaded.config.deploy).toMatchObject({
      startCommand: 'node dist/index.js',
      healthcheckPath: '/health',
      healthcheckTimeout: 30,
      restartPolicyType: 'ON_FAILURE',
      restartPolicyMaxRetries: 3,
    });
    expect(loaded.warnings).toEqual(['railway.toml: unknown key "services" is ignored']);
  });

  it('parses the Node seed and warns about [service] internalPort', () => {
    const loaded = toml(SEED_NODE);
    expect(loaded.config.build).toMatchObject({ builder: 'NIXPACKS', buildCommand: 'npm run build' });
    expect(loaded.config.deploy).toMatchObject({
      startCommand: 'npm run start:prod',
      healthcheckPath: '/health',
      healthcheckTimeout: 30,
      restartPolicyType: 'ON_FAILURE',
      restartPolicyMaxRetries: 5,
    });
    expect(loaded.warnings).toEqual(['railway.toml: unknown key "service.internalPort" is ignored']);
  });
});

describe('field values', () => {
  it('reads enums case-insensitively', () => {
    for (const [written, builder] of [
      ['railpack', 'RAILPACK'],
      ['Dockerfile', 'DOCKERFILE'],
      ['heroku', 'HEROKU'],
      ['PAKETO', 'PAKETO'],
    ]) {
      expect(toml(`[build]\nbuilder = "${written}"\n`).config.build.builder).toBe(builder);
    }
    for (const [written, policy] of [
      ['always', 'ALWAYS'],
      ['Never', 'NEVER'],
      ['on_failure', 'ON_FAILURE'],
    ]) {
      expect(toml(`[deploy]\nrestartPolicyType = "${written}"\n`).config.deploy.restartPolicyType).toBe(
        policy,
      );
    }
  });

  it('accepts numeric strings and numbers for overlap/draining seconds', () => {
    const asStrings = toml('[deploy]\noverlapSeconds = "60"\ndrainingSeconds = "10"\n').config.deploy;
    expect([asStrings.overlapSeconds, asStrings.drainingSeconds]).toEqual([60, 10]);
    const asNumbers = toml('[deploy]\noverlapSeconds = 45\ndrainingSeconds = 0\n').config.deploy;
    expect([asNumbers.overlapSeconds, asNumbers.drainingSeconds]).toEqual([45, 0]);
  });

  it('turns a preDeployCommand string into one entry and keeps arrays in order', () => {
    expect(toml('[deploy]\npreDeployCommand = "npm run migrate"\n').config.deploy.preDeployCommand).toEqual([
      'npm run migrate',
    ]);
    expect(
      toml('[deploy]\npreDeployCommand = ["npm run migrate", "npm run seed"]\n').config.deploy
        .preDeployCommand,
    ).toEqual(['npm run migrate', 'npm run seed']);
    expect(toml('[deploy]\npreDeployCommand = []\n').config.deploy.preDeployCommand).toEqual([]);
  });

  it('reads the remaining fields', () => {
    const { config } = toml(`[build]
buildCommand = "make"
watchPatterns = ["src/**", "!src/**/*.md"]

[deploy]
numReplicas = 3
cronSchedule = "*/15  * * * *"
sleepApplication = true
`);
    expect(config.build.watchPatterns).toEqual(['src/**', '!src/**/*.md']);
    expect(config.build.buildCommand).toBe('make');
    expect(config.deploy.numReplicas).toBe(3);
    expect(config.deploy.cronSchedule).toBe('*/15 * * * *');
    expect(config.deploy.sleepApplication).toBe(true);
  });

  it('reads sleepAfterSeconds (Berth extension) and refuses a period under a second', () => {
    const { config, warnings } = toml('[deploy]\nsleepApplication = true\nsleepAfterSeconds = 30\n');
    expect([config.deploy.sleepApplication, config.deploy.sleepAfterSeconds]).toEqual([true, 30]);
    expect(warnings).toEqual([]);
    expect(() => toml('[deploy]\nsleepAfterSeconds = 0\n')).toThrow(
      'railway.toml: deploy.sleepAfterSeconds must be a whole number of seconds, 1 or more (got 0)',
    );
  });

  it('sums multiRegionConfig replicas unless numReplicas is set', () => {
    const multi = toml(`[deploy.multiRegionConfig.us-west2]
numReplicas = 2

[deploy.multiRegionConfig.europe-west4-drams3a]
numReplicas = 3
`);
    expect(multi.config.deploy.numReplicas).toBe(5);
    expect(multi.origins['deploy.numReplicas']).toEqual({ source: 'file', file: 'railway.toml' });
    expect(multi.warnings).toEqual([
      'railway.toml: deploy.multiRegionConfig lists 2 regions; Berth runs all 5 replicas on this host',
    ]);
    const both = toml('[deploy]\nnumReplicas = 1\n[deploy.multiRegionConfig.us-west2]\nnumReplicas = 4\n');
    expect(both.config.deploy.numReplicas).toBe(1);
  });

  it('treats null as no opinion and an empty string as clearing a setting (JSON)', () => {
    const loaded = load({
      'railway.json': JSON.stringify({
        build: { builder: null, buildCommand: null, dockerfilePath: '' },
        deploy: {
          healthcheckTimeout: null,
          startCommand: null,
          healthcheckPath: null,
          multiRegionConfig: null,
        },
      }),
    });
    expect(loaded.config).toEqual(defaultServiceConfig());
    expect(loaded.origins['build.builder']).toEqual({ source: 'default' });
    expect(loaded.origins['build.dockerfilePath']).toEqual({ source: 'file', file: 'railway.json' });
  });

  it('accepts known Railway keys Berth does not use, with a warning', () => {
    const loaded = load({
      'railway.json': JSON.stringify({
        $schema: 'https://railway.com/railway.schema.json',
        build: { builder: 'NIXPACKS', nixpacksPlan: { phases: { setup: { nixPkgs: ['...', 'ffmpeg'] } } } },
        deploy: {
          region: 'us-west2',
          requiredMountPath: '/data',
          runtime: 'V2',
          preDeployTimeoutSeconds: null,
        },
      }),
    });
    expect(loaded.config.build.builder).toBe('NIXPACKS');
    expect(loaded.warnings).toEqual([
      'railway.json: build.nixpacksPlan is a Railway setting Berth does not use; it is ignored',
      'railway.json: deploy.region is a Railway setting Berth does not use; it is ignored',
      'railway.json: deploy.requiredMountPath is a Railway setting Berth does not use; it is ignored',
      'railway.json: deploy.runtime is a Railway setting Berth does not use; it is ignored',
    ]);
  });
});

describe('unknown keys', () => {
  it('warns per key, with a hint for case slips and wrong sections', () => {
    const loaded = toml(`startCommand = "x"

[build]
startCommand = "node a.js"
foo = 1

[deploy]
healthCheckPath = "/up"
`);
    expect(loaded.config.deploy.startCommand).toBeNull();
    expect(loaded.config.deploy.healthcheckPath).toBeNull();
    expect(loaded.warnings).toEqual([
      'railway.toml: unknown key "build.startCommand" is ignored (did you mean "deploy.startCommand"?)',
      'railway.toml: unknown key "build.foo" is ignored',
      'railway.toml: unknown key "deploy.healthCheckPath" is ignored (did you mean "deploy.healthcheckPath"?)',
      'railway.toml: unknown key "startCommand" is ignored (did you mean "deploy.startCommand"?)',
    ]);
  });

  it('warns about unknown keys inside environment blocks', () => {
    const loaded = toml('[environments.staging]\nreplicas = 2\n[environments.staging.deploy]\nfoo = true\n');
    expect(loaded.warnings).toEqual([
      'railway.toml: unknown key "environments.staging.replicas" is ignored',
      'railway.toml: unknown key "environments.staging.deploy.foo" is ignored',
    ]);
  });
});

describe('environment overrides', () => {
  const FILE = `[build]
builder = "nixpacks"

[deploy]
startCommand = "node server.js"
numReplicas = 2
healthcheckPath = "/health"

[environments.staging.deploy]
numReplicas = 1
startCommand = "node server.js --staging"

[environments.production.deploy]
numReplicas = 4

[environments.production.build]
builder = "railpack"
`;

  it('applies the selected block over the base and records override origins', () => {
    const loaded = toml(FILE, { environment: 'staging' });
    expect(loaded.config.deploy.numReplicas).toBe(1);
    expect(loaded.config.deploy.startCommand).toBe('node server.js --staging');
    expect(loaded.config.deploy.healthcheckPath).toBe('/health');
    expect(loaded.config.build.builder).toBe('NIXPACKS');
    const override = { source: 'override', file: 'railway.toml', environment: 'staging' };
    expect(loaded.origins['deploy.numReplicas']).toEqual(override);
    expect(loaded.origins['deploy.startCommand']).toEqual(override);
    expect(loaded.origins['deploy.healthcheckPath']).toEqual({ source: 'file', file: 'railway.toml' });
    expect(loaded.origins['build.builder']).toEqual({ source: 'file', file: 'railway.toml' });
    expect(loaded.origins['deploy.cronSchedule']).toEqual({ source: 'default' });
  });

  it('resolves a preview in Railway order: its own block, then [environments.pr], then its base', () => {
    const text = `${FILE}
[environments.pr.deploy]
numReplicas = 3
healthcheckPath = "/pr-health"

[environments.br-feature.deploy]
numReplicas = 5
`;
    const own = toml(text, { environment: 'br-feature', previewOf: 'production' });
    expect(own.config.deploy.numReplicas).toBe(5);
    expect(own.origins['deploy.numReplicas']).toMatchObject({ environment: 'br-feature' });
    expect(own.config.deploy.healthcheckPath).toBe('/pr-health');
    expect(own.origins['deploy.healthcheckPath']).toMatchObject({ environment: 'pr' });
    expect(own.config.build.builder).toBe('RAILPACK');
    expect(own.origins['build.builder']).toMatchObject({ environment: 'production' });
    const other = toml(text, { environment: 'pr-7', previewOf: 'staging' });
    expect(other.config.deploy.numReplicas).toBe(3);
    expect(other.config.deploy.startCommand).toBe('node server.js --staging');
    // Not a preview: the pr block does not apply.
    expect(toml(text, { environment: 'staging' }).config.deploy.numReplicas).toBe(1);
  });

  it('uses another block for another environment, and only the base when none matches', () => {
    const production = toml(FILE, { environment: 'production' });
    expect(production.config.deploy.numReplicas).toBe(4);
    expect(production.config.build.builder).toBe('RAILPACK');
    expect(production.origins['build.builder']).toEqual({
      source: 'override',
      file: 'railway.toml',
      environment: 'production',
    });
    const other = toml(FILE, { environment: 'dev' });
    expect(other.config.deploy.numReplicas).toBe(2);
    expect(other.config.deploy.startCommand).toBe('node server.js');
  });

  it('validates blocks of environments that are not selected', () => {
    expect(tomlError('[environments.staging.deploy]\nnumReplicas = 0\n', { environment: 'production' })).toBe(
      'railway.toml: environments.staging.deploy.numReplicas must be a whole number, 1 or more (got 0)',
    );
  });

  it('ignores environment names that collide with Object.prototype', () => {
    const loaded = toml('[deploy]\nnumReplicas = 2\n', { environment: 'constructor' });
    expect(loaded.config.deploy.numReplicas).toBe(2);
  });
});

describe('config variables', () => {
  const variables = {
    RAILWAY_DEPLOYMENT_OVERLAP_SECONDS: '30',
    RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '60',
    RAILWAY_HEALTHCHECK_TIMEOUT_SEC: '120',
    RAILWAY_DOCKERFILE_PATH: 'docker/Dockerfile.prod',
  };

  it('apply when the file does not set the value', () => {
    const loaded = load({ 'package.json': '{}' }, { variables });
    expect(loaded.config.deploy).toMatchObject({
      overlapSeconds: 30,
      drainingSeconds: 60,
      healthcheckTimeout: 120,
    });
    expect(loaded.config.build.dockerfilePath).toBe('docker/Dockerfile.prod');
    expect(loaded.origins['deploy.overlapSeconds']).toEqual({
      source: 'variable',
      variable: 'RAILWAY_DEPLOYMENT_OVERLAP_SECONDS',
    });
    expect(loaded.origins['deploy.healthcheckTimeout']).toEqual({
      source: 'variable',
      variable: 'RAILWAY_HEALTHCHECK_TIMEOUT_SEC',
    });
    expect(loaded.origins['build.dockerfilePath']).toEqual({
      source: 'variable',
      variable: 'RAILWAY_DOCKERFILE_PATH',
    });
  });

  it('rank below the file and below overrides', () => {
    const loaded = toml(
      '[deploy]\nhealthcheckTimeout = 30\n[environments.production.deploy]\noverlapSeconds = "5"\n',
      { variables },
    );
    expect(loaded.config.deploy.healthcheckTimeout).toBe(30);
    expect(loaded.origins['deploy.healthcheckTimeout']).toEqual({ source: 'file', file: 'railway.toml' });
    expect(loaded.config.deploy.overlapSeconds).toBe(5);
    expect(loaded.origins['deploy.overlapSeconds']).toMatchObject({
      source: 'override',
      environment: 'production',
    });
    expect(loaded.config.deploy.drainingSeconds).toBe(60);
  });

  it('ignore empty values and other variables', () => {
    const loaded = load({}, { variables: { RAILWAY_DEPLOYMENT_OVERLAP_SECONDS: '', PORT: '3000' } });
    expect(loaded.config).toEqual(defaultServiceConfig());
  });

  it('must be valid numbers', () => {
    expect(errorOf(() => load({}, { variables: { RAILWAY_DEPLOYMENT_OVERLAP_SECONDS: 'soon' } }))).toBe(
      'RAILWAY_DEPLOYMENT_OVERLAP_SECONDS: must be a whole number of seconds, 0 or more (got "soon")',
    );
    expect(errorOf(() => load({}, { variables: { RAILWAY_HEALTHCHECK_TIMEOUT_SEC: '0' } }))).toBe(
      'RAILWAY_HEALTHCHECK_TIMEOUT_SEC: must be a positive whole number of seconds (got "0")',
    );
  });
});

describe('invalid values', () => {
  const cases: [string, string][] = [
    [
      '[build]\nbuilder = "buildpacks"',
      'railway.toml: build.builder must be one of RAILPACK, NIXPACKS, DOCKERFILE, HEROKU, PAKETO (got "buildpacks")',
    ],
    ['[build]\nbuildCommand = 5', 'railway.toml: build.buildCommand must be a string (got 5)'],
    [
      '[build]\nwatchPatterns = "src/**"',
      'railway.toml: build.watchPatterns must be a list of gitignore-style patterns (got "src/**")',
    ],
    ['[build]\nwatchPatterns = ["src", 3]', 'railway.toml: build.watchPatterns[1] must be a string (got 3)'],
    ['[build]\ndockerfilePath = true', 'railway.toml: build.dockerfilePath must be a string (got true)'],
    [
      '[deploy]\nstartCommand = ["node", "a.js"]',
      'railway.toml: deploy.startCommand must be a string (got ["node","a.js"])',
    ],
    [
      '[deploy]\npreDeployCommand = 1',
      'railway.toml: deploy.preDeployCommand must be a command string or a list of command strings (got 1)',
    ],
    [
      '[deploy]\npreDeployCommand = ["a", ""]',
      'railway.toml: deploy.preDeployCommand[1] must be a non-empty command string (got "")',
    ],
    [
      '[deploy]\npreDeployCommand = "  "',
      'railway.toml: deploy.preDeployCommand must be a non-empty command string (got "  ")',
    ],
    [
      '[deploy]\nhealthcheckPath = "health"',
      'railway.toml: deploy.healthcheckPath must be a path starting with "/" (got "health")',
    ],
    [
      '[deploy]\nhealthcheckTimeout = "abc"',
      'railway.toml: deploy.healthcheckTimeout must be a positive whole number of seconds (got "abc")',
    ],
    [
      '[deploy]\nhealthcheckTimeout = 0',
      'railway.toml: deploy.healthcheckTimeout must be a positive whole number of seconds (got 0)',
    ],
    [
      '[deploy]\nhealthcheckTimeout = 1.5',
      'railway.toml: deploy.healthcheckTimeout must be a positive whole number of seconds (got 1.5)',
    ],
    [
      '[deploy]\nrestartPolicyType = "sometimes"',
      'railway.toml: deploy.restartPolicyType must be one of ON_FAILURE, ALWAYS, NEVER (got "sometimes")',
    ],
    [
      '[deploy]\nrestartPolicyMaxRetries = -1',
      'railway.toml: deploy.restartPolicyMaxRetries must be a whole number, 0 or more (got -1)',
    ],
    [
      '[deploy]\nnumReplicas = 0',
      'railway.toml: deploy.numReplicas must be a whole number, 1 or more (got 0)',
    ],
    [
      '[deploy.multiRegionConfig.us-west2]\nnumReplicas = "2"',
      'railway.toml: deploy.multiRegionConfig.us-west2.numReplicas must be a whole number, 0 or more (got "2")',
    ],
    [
      '[deploy.multiRegionConfig.us-west2]\nnumReplicas = 0',
      'railway.toml: deploy.multiRegionConfig must give at least one region 1 or more replicas (got a table)',
    ],
    [
      '[deploy]\ncronSchedule = "0 0 * *"',
      'railway.toml: deploy.cronSchedule must be a 5-field crontab schedule (minute hour day month weekday) ' +
        'such as "0 3 * * *", or 6 fields with leading seconds (got "0 0 * *", which has 4 fields)',
    ],
    [
      '[deploy]\nsleepApplication = "yes"',
      'railway.toml: deploy.sleepApplication must be true or false (got "yes")',
    ],
    [
      '[deploy]\noverlapSeconds = "1m"',
      'railway.toml: deploy.overlapSeconds must be a whole number of seconds, 0 or more (got "1m")',
    ],
    [
      '[deploy]\ndrainingSeconds = -5',
      'railway.toml: deploy.drainingSeconds must be a whole number of seconds, 0 or more (got -5)',
    ],
    [
      '[deploy]\nworkerStabilitySeconds = 1.5',
      'railway.toml: deploy.workerStabilitySeconds must be a whole number of seconds, 0 or more (got 1.5)',
    ],
    ['[deploy]\nsingleton = "yes"', 'railway.toml: deploy.singleton must be true or false (got "yes")'],
    ['deploy = "fast"', 'railway.toml: deploy must be a table (got "fast")'],
    ['environments = 1', 'railway.toml: environments must be a table of environment names (got 1)'],
    [
      '[environments]\nstaging = "x"',
      'railway.toml: environments.staging must be a table with build and/or deploy (got "x")',
    ],
    [
      '[environments.staging.deploy]\nrestartPolicyType = "sometimes"',
      'railway.toml: environments.staging.deploy.restartPolicyType must be one of ON_FAILURE, ALWAYS, NEVER (got "sometimes")',
    ],
  ];

  it.each(cases.map(([text, message]) => ({ name: text.replace(/\n/g, ' | '), text, message })))(
    '$name',
    ({ text, message }) => {
      expect(tomlError(`${text}\n`)).toBe(message);
    },
  );

  it('carries file and key on the error', () => {
    try {
      toml('[deploy]\nnumReplicas = 0\n');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).file).toBe('railway.toml');
      expect((err as ConfigError).key).toBe('deploy.numReplicas');
      expect((err as ConfigError).status).toBe(400);
    }
  });

  it('says object rather than table for JSON files', () => {
    expect(errorOf(() => load({ 'railway.json': '{"deploy": 3}' }))).toBe(
      'railway.json: deploy must be an object (got 3)',
    );
    expect(errorOf(() => load({ 'railway.json': '[]' }))).toBe(
      'railway.json: must hold an object at the top level (got [])',
    );
  });
});

describe('syntax errors', () => {
  it('names the file and line for TOML', () => {
    expect(tomlError('[deploy]\nstartCommand = \n')).toBe(
      'railway.toml: could not be parsed: invalid value (line 2, column 16)',
    );
  });

  it('names the file and line for JSON', () => {
    const message = errorOf(() =>
      load({ 'railway.json': '{\n  "deploy": {\n    "numReplicas": 2,\n  }\n}' }),
    );
    expect(message).toMatch(/^railway\.json: could not be parsed: .+\(line 4, column 3\)$/);
  });
});

describe('file discovery', () => {
  const TOML = `[build]
builder = "dockerfile"
dockerfilePath = "Dockerfile.web"
watchPatterns = ["src/**"]

[deploy]
startCommand = "node index.js"
preDeployCommand = "npm run migrate"
healthcheckPath = "/ready"
healthcheckTimeout = 60
restartPolicyType = "always"
restartPolicyMaxRetries = 0
numReplicas = 2
cronSchedule = "0 3 * * *"
sleepApplication = true
overlapSeconds = "60"
drainingSeconds = 10

[environments.staging.deploy]
numReplicas = 1
`;
  const JSON_TEXT = JSON.stringify({
    $schema: 'https://railway.com/railway.schema.json',
    build: { builder: 'DOCKERFILE', dockerfilePath: 'Dockerfile.web', watchPatterns: ['src/**'] },
    deploy: {
      startCommand: 'node index.js',
      preDeployCommand: ['npm run migrate'],
      healthcheckPath: '/ready',
      healthcheckTimeout: 60,
      restartPolicyType: 'ALWAYS',
      restartPolicyMaxRetries: 0,
      numReplicas: 2,
      cronSchedule: '0 3 * * *',
      sleepApplication: true,
      overlapSeconds: 60,
      drainingSeconds: '10',
    },
    environments: { staging: { deploy: { numReplicas: 1 } } },
  });

  it('reads railway.json and railway.toml into the same config', () => {
    for (const environment of ['production', 'staging']) {
      const fromToml = load({ 'railway.toml': TOML }, { environment });
      const fromJson = load({ 'railway.json': JSON_TEXT }, { environment });
      expect(fromJson.config).toEqual(fromToml.config);
      // Both ask for sleepApplication on a cron service, which Railway accepts: a warning, not a failure.
      const cronSleeps = [
        'deploy.sleepApplication has no effect on a cron service (cronSchedule): it runs only on its schedule, with nothing in between to sleep',
      ];
      expect(fromJson.warnings).toEqual(cronSleeps);
      expect(fromToml.warnings).toEqual(cronSleeps);
      expect(fromJson.file).toBe('railway.json');
    }
  });

  it('prefers railway.toml, then railway.json, then berth.toml', () => {
    const all = load({
      'railway.toml': '[deploy]\nnumReplicas = 1\n',
      'railway.json': '{"deploy": {"numReplicas": 2}}',
      'berth.toml': '[deploy]\nnumReplicas = 3\n',
    });
    expect(all.file).toBe('railway.toml');
    expect(all.warnings).toEqual([
      'railway.json: ignored because railway.toml is read first',
      'berth.toml: ignored because railway.toml is read first',
    ]);
    const berth = load({ 'berth.toml': '[deploy]\nnumReplicas = 3\n' });
    expect(berth.file).toBe('berth.toml');
    expect(berth.config.deploy.numReplicas).toBe(3);
    expect(berth.origins['deploy.numReplicas']).toEqual({ source: 'file', file: 'berth.toml' });
  });

  it('uses an explicit config path, with or without a leading slash', () => {
    const files = {
      'railway.toml': '[deploy]\nnumReplicas = 1\n',
      'backend/railway.toml': '[deploy]\nnumReplicas = 7\n',
    };
    for (const configPath of ['backend/railway.toml', '/backend/railway.toml']) {
      const loaded = load(files, { configPath });
      expect(loaded.file).toBe('backend/railway.toml');
      expect(loaded.config.deploy.numReplicas).toBe(7);
      expect(loaded.origins['deploy.numReplicas']).toEqual({ source: 'file', file: 'backend/railway.toml' });
    }
  });

  it('fails when the explicit config file is missing, even if a default file exists', () => {
    expect(errorOf(() => load({ 'railway.toml': '' }, { configPath: '/backend/railway.toml' }))).toBe(
      "backend/railway.toml: the configured config file was not found in the source; add it or fix the service's config path",
    );
  });

  it('rejects explicit paths that leave the source or are not toml/json', () => {
    expect(errorOf(() => load({}, { configPath: '../railway.toml' }))).toBe(
      '../railway.toml: the config path must name a file inside the source directory',
    );
    expect(errorOf(() => load({ 'railway.yaml': '' }, { configPath: 'railway.yaml' }))).toBe(
      'railway.yaml: the config path must name a .toml or .json file',
    );
  });

  it('refuses a config file that links outside the source', () => {
    const outside = sourceWith({ 'secret.toml': 'password = "x"\n' });
    const dir = sourceWith({});
    fs.symlinkSync(path.join(outside, 'secret.toml'), path.join(dir, 'railway.toml'));
    expect(errorOf(() => loadServiceConfig(dir, { environment: 'production' }))).toBe(
      'railway.toml: is a link that points outside the source directory, so it is not read',
    );
  });

  it('accepts an empty file and a byte-order mark', () => {
    expect(load({ 'railway.toml': '' }).config).toEqual(defaultServiceConfig());
    expect(load({ 'railway.json': '\uFEFF{"deploy": {"numReplicas": 2}}' }).config.deploy.numReplicas).toBe(
      2,
    );
  });
});

describe('cronSchedule values', () => {
  it('accepts 6 fields with seconds (Berth extension) and rejects out-of-range values', () => {
    const { dir, cleanup } = makeTmpDir();
    try {
      fs.writeFileSync(path.join(dir, 'railway.toml'), '[deploy]\ncronSchedule = "*/2 * * * * *"');
      expect(loadServiceConfig(dir, { environment: 'production' }).config.deploy.cronSchedule).toBe(
        '*/2 * * * * *',
      );
      fs.writeFileSync(path.join(dir, 'railway.toml'), '[deploy]\ncronSchedule = "99 * * * *"');
      expect(() => loadServiceConfig(dir, { environment: 'production' })).toThrow(
        /^railway\.toml: deploy\.cronSchedule must be a 5-field crontab schedule .* \(got "99 \* \* \* \*": /,
      );
    } finally {
      cleanup();
    }
  });
});

describe('[edge] (Berth extension)', () => {
  it('reads rate limits, body size, IP lists and denied paths, with environment overrides', () => {
    const loaded = load(
      {
        'railway.toml': [
          '[edge]',
          'rateLimit = 100',
          'rateLimitWindowSeconds = 10',
          'maxBodySize = "10mb"',
          'allowIps = ["203.0.113.0/24", "2001:db8::/32"]',
          'denyIps = ["198.51.100.7"]',
          'denyPaths = ["/admin", "/.env"]',
          '[environments.staging.edge]',
          'rateLimit = 5',
        ].join('\n'),
      },
      { environment: 'staging' },
    );
    expect(loaded.warnings).toEqual([]);
    expect(loaded.config.edge).toEqual({
      rateLimit: 5,
      rateLimitWindowSeconds: 10,
      maxBodySize: 10 * 1024 * 1024,
      allowIps: ['203.0.113.0/24', '2001:db8::/32'],
      denyIps: ['198.51.100.7'],
      denyPaths: ['/admin', '/.env'],
    });
    expect(loaded.origins['edge.rateLimit']).toMatchObject({ source: 'override', environment: 'staging' });
    expect(loaded.origins['edge.maxBodySize']).toEqual({ source: 'file', file: 'railway.toml' });
  });

  it.each([
    ['rateLimit = 0', 'edge.rateLimit must be a whole number of requests, 1 or more (got 0)'],
    [
      'maxBodySize = "ten"',
      'edge.maxBodySize must be a size in bytes, like 1048576 or "10mb" (kb, mb, gb) (got "ten")',
    ],
    [
      'denyIps = ["10.0.0.0/33"]',
      'edge.denyIps[0] must be an IP address or CIDR range like 203.0.113.0/24 (got "10.0.0.0/33")',
    ],
    [
      'allowIps = ["example.com"]',
      'edge.allowIps[0] must be an IP address or CIDR range like 203.0.113.0/24 (got "example.com")',
    ],
    ['denyPaths = ["admin"]', 'edge.denyPaths[0] must be a path prefix starting with "/" (got "admin")'],
  ])('refuses %s naming the file and key', (line, message) => {
    expect(() => load({ 'railway.toml': `[edge]\n${line}\n` })).toThrow(`railway.toml: ${message}`);
  });

  it('warns about unknown [edge] keys', () => {
    const loaded = load({ 'railway.toml': '[edge]\nratelimit = 5\n' });
    expect(loaded.warnings.join('\n')).toContain('unknown key "edge.ratelimit"');
  });
});

describe('the replica cap of the server (maxReplicas)', () => {
  it('refuses more replicas than the cap, naming where the number came from', () => {
    expect(tomlError('[deploy]\nnumReplicas = 65\n', { maxReplicas: 64 })).toBe(
      'railway.toml: deploy.numReplicas asks for 65 replicas, more than this server runs for one deployment (64); lower it (multiRegionConfig replicas count together), or start the server with --max-replicas 65',
    );
    expect(
      tomlError('[environments.staging.deploy]\nnumReplicas = 9\n', {
        maxReplicas: 8,
        environment: 'staging',
      }),
    ).toContain('railway.toml: environments.staging.deploy.numReplicas asks for 9 replicas');
    expect(
      tomlError(
        '[deploy.multiRegionConfig.a]\nnumReplicas = 5\n[deploy.multiRegionConfig.b]\nnumReplicas = 5\n',
        {
          maxReplicas: 8,
        },
      ),
    ).toContain('asks for 10 replicas');
    expect(toml('[deploy]\nnumReplicas = 64\n', { maxReplicas: 64 }).config.deploy.numReplicas).toBe(64);
  });
});
