/** Who a data service's engine runs as, and in which sandbox (src/data/README.md, "Who runs the engine"). */
import { UserError } from '../core/errors.js';
import type { SandboxUsers } from '../deploy/sandbox-users.js';
import type { Sandbox } from '../runtime/sandbox.js';
import type { VolumeOwner } from './volume.js';

/**
 * Never root (PostgreSQL refuses it; a network server should not have it): a root daemon runs the engine as the
 * service's own sandbox user in its sandbox (the volume its only writable path); a daemon that is not root runs
 * it as itself. Without a data service (ds null) it only refuses a root daemon that has no sandbox.
 */
export function engineUser(
  sandboxUsers: SandboxUsers,
  ds: { serviceId: string; environmentId: string; volume: string } | null,
  dieWithParent: boolean,
): { owner: VolumeOwner; sandbox?: Sandbox } {
  const host = sandboxUsers.host;
  if (!host) {
    if (process.getuid?.() === 0) {
      throw new UserError(
        'Berth runs databases as their own user, never as root, and this Berth server runs as root without its sandbox; install bubblewrap (apt-get install bubblewrap) and restart the server without --sandbox off.',
        { status: 503, code: 'sandbox_required' },
      );
    }
    return { owner: null };
  }
  if (!ds) return { owner: null };
  const user = sandboxUsers.userOf(ds.serviceId, ds.environmentId);
  if (!user) return { owner: null };
  return {
    owner: { uid: user.uid, gid: user.gid },
    sandbox: { host, job: { user, writable: [ds.volume], readOnly: [], dieWithParent } },
  };
}
