/**
 * `berth ssh`: which replica a command runs next to and how (its spec comes from Replicas.execSpec). The shell
 * and the pseudo-terminal wrapper are fixed programs, never built from the user's input.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import type { Environment, Service } from '../core/model.js';
import type { Store } from '../store/store.js';
import type { Replicas } from './replicas.js';

export interface ExecRequest {
  /** The replica number; null: the first running one. */
  replica: number | null;
  /** The command; null: an interactive shell. */
  argv: string[] | null;
  /** The client has a terminal: an interactive shell runs under `script`, which gives it a pseudo-terminal. */
  tty: boolean;
  /** That terminal's size, for COLUMNS and LINES. */
  size?: { cols: number; rows: number } | null;
}

export interface ExecPlan {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Which replica, for messages. */
  replica: number;
}

/** The first of these programs that exists on the host (the sandbox sees the host's system directories). */
function firstExisting(candidates: string[]): string | null {
  return candidates.find((p) => fs.existsSync(p)) ?? null;
}

/**
 * The program to run for a request: the command itself; else a shell (bash where installed), under
 * `script -q -e /dev/null` (util-linux: a pseudo-terminal, the shell's exit code) when the client has a terminal.
 */
export function execProgram(
  req: Pick<ExecRequest, 'argv' | 'tty' | 'size'>,
  found: { shell: string; script: string | null },
): { program: string[]; env: Record<string, string> } {
  if (req.argv) return { program: req.argv, env: {} };
  if (req.tty && found.script) {
    // The pseudo-terminal script makes is 0×0; curses programs then read the size from these.
    const size: Record<string, string> = req.size
      ? { COLUMNS: String(req.size.cols), LINES: String(req.size.rows) }
      : {};
    return { program: [found.script, '-q', '-e', '/dev/null'], env: { SHELL: found.shell, ...size } };
  }
  return { program: [found.shell, '-i'], env: {} };
}

export function planExec(
  store: Store,
  replicas: Replicas,
  service: Service,
  env: Environment,
  req: ExecRequest,
): ExecPlan {
  const activeId = store.deployments.findActiveId(service.id, env.id);
  const running = activeId ? store.workloads.ofDeployment(activeId).filter((w) => w.state === 'running') : [];
  if (running.length === 0) {
    throw new UserError(
      `Service "${service.name}" has no running replica in ${env.name}; deploy it with \`berth up\` first.`,
      { status: 409, code: 'conflict' },
    );
  }
  const inst = req.replica === null ? running[0] : running.find((w) => w.slot === req.replica);
  if (!inst) {
    throw new UserError(
      `Service "${service.name}" has no running replica ${req.replica} in ${env.name}; its running replicas are ${running.map((w) => w.slot).join(', ')}.`,
      { status: 404, code: 'not_found' },
    );
  }
  const found = {
    shell: firstExisting(['/bin/bash', '/usr/bin/bash']) ?? '/bin/sh',
    script: firstExisting(['/usr/bin/script', '/bin/script']),
  };
  const { program, env: extra } = execProgram(req, found);
  const d = store.deployments.get(inst.ownerId);
  const spec = replicas.execSpec(d, inst, program);
  if (!spec) {
    throw new UserError(
      `Replica ${inst.slot} of service "${service.name}" is restarting; try again in a moment.`,
      { status: 409, code: 'conflict' },
    );
  }
  return { ...spec, env: { ...spec.env, ...extra }, replica: inst.slot };
}

/** For messages: the command's program name. */
export function programName(argv: string[]): string {
  return path.basename(argv[0] ?? '');
}
