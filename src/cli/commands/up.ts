import path from 'node:path';
import type { Command } from 'commander';
import { ensureLocalServer } from '../autostart.js';
import {
  type ContextFlags,
  findLink,
  readConfig,
  resolvePartialTarget,
  resolveUrl,
  tildify,
} from '../context.js';
import { followDeployment } from '../follow.js';
import { formatSize, print, printErr, printJsonLine } from '../output.js';
import { saveLink } from './project.js';
import { contextFlags, type JsonFlag, makeClient, withContextOptions } from './shared.js';

interface UpFlags extends ContextFlags, JsonFlag {
  detach?: boolean;
  ci?: boolean;
  message?: string;
  pathAsRoot?: boolean;
  gitignore?: boolean;
}

/**
 * The directory `berth up` uploads. Like Railway's `up`, without PATH it is the linked project's directory
 * (the nearest linked directory above), so a service's root directory and config path mean the same as in
 * the repository from any subdirectory. An explicit PATH, or --path-as-root, is uploaded as the root itself
 * (Railway's `--path-as-root`; Berth's `berth up PATH` always deployed PATH so).
 */
export function uploadRoot(
  cwd: string,
  pathArg: string | undefined,
  linkDir: string | undefined,
  pathAsRoot: boolean,
): string {
  const target = path.resolve(cwd, pathArg ?? '.');
  return pathArg !== undefined || pathAsRoot || !linkDir ? target : linkDir;
}

/** The directory's name as a project/service name: lower-case letters, digits and dashes ("My App" → "my-app"). */
export function defaultName(dir: string): string {
  const slug = path
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug || 'app';
}

export function registerUp(program: Command): void {
  upCommand(program.command('up'));
}

/** `up` and its alias `deployment up`: the options and the action on a command made by the caller. */
export function upCommand(cmd: Command): Command {
  return withContextOptions(
    cmd
      .description('upload a directory, build and deploy it, and stream the logs')
      .argument('[path]', 'directory to deploy (default: the current directory)')
      .option('-d, --detach', 'return once the upload is accepted, without following the deployment')
      .option('-c, --ci', 'print only the build log, then exit with the deployment’s outcome (0 = SUCCESS)')
      .option('-m, --message <message>', 'a note stored with the deployment (shown by `berth deployments`)')
      .option(
        '--no-gitignore',
        'upload files .gitignore lists too (.railwayignore and .berthignore still apply)',
      )
      .option(
        '--path-as-root',
        "upload the current directory (or PATH) itself, not the linked project's directory",
      )
      .option('--json', 'print NDJSON events, one JSON object per line, instead of formatted lines'),
  ).action(async (pathArg: string | undefined, opts: UpFlags) => {
    const deployDir = path.resolve(pathArg ?? process.cwd());
    const config = readConfig();
    // The directory being deployed decides the link; the current directory's link is the fallback.
    const linkFrom = findLink(config, deployDir) ? deployDir : process.cwd();
    const linked = findLink(config, linkFrom);
    const root = uploadRoot(process.cwd(), pathArg, linked?.dir, opts.pathAsRoot ?? false);
    const t = resolvePartialTarget(contextFlags(opts), config, linkFrom);
    const fallbackName = defaultName(root);
    const target = {
      project: t.project ?? fallbackName,
      environment: t.environment,
      service: t.service ?? fallbackName,
    };
    const say = opts.json ? printErr : print;

    // Build the tarball first: a bad path or an empty directory should not start a server.
    // tar and ignore load with the upload only: `berth server` imports every command module.
    const { createSourceTarball } = await import('../upload.js');
    const tarball = await createSourceTarball(root, { gitignore: opts.gitignore ?? true });
    if (root !== deployDir) say(`Uploading the linked project's directory ${tildify(root)}`);

    if (!resolveUrl(config).configured) {
      const started = await ensureLocalServer();
      if (started) say(started);
    }
    const client = makeClient(readConfig());
    const res = await client.up(target, tarball.data, { message: opts.message, create: true });

    if (opts.json) {
      printJsonLine({ type: 'deployment', ...res, files: tarball.files, bytes: tarball.bytes });
    } else {
      print(
        `Uploaded ${tarball.files} ${tarball.files === 1 ? 'file' : 'files'} (${formatSize(tarball.bytes)})`,
      );
      print(`Deployment ${res.deploymentId}`);
    }

    // Remember where this directory deploys to, so the next `berth up`, `logs` or `status` need no flags.
    const existing = findLink(readConfig(), linkFrom);
    if (!existing) {
      const link = { project: target.project, environment: target.environment, service: target.service };
      saveLink(root, link);
      say(`Linked ${tildify(root)} to ${link.project} (${link.environment}), service ${link.service}`);
    } else if (!existing.link.service && existing.link.project === target.project) {
      saveLink(existing.dir, { ...existing.link, service: target.service });
    }

    if (opts.detach) {
      if (!opts.json && res.url) print(`URL: ${res.url}`);
      return;
    }
    const result = await followDeployment(client, res.deploymentId, {
      json: opts.json,
      url: res.url,
      buildOnly: opts.ci,
    });
    process.exitCode = result.exitCode;
  });
}
