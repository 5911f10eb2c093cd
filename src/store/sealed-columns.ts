import type { Row, StoreContext } from './context.js';
import type { SealedColumn } from './rotate-key.js';
import { SecretBox } from './secret-box.js';

/** AADs bind each ciphertext to its row, so a value copied into another row does not decrypt. */
export const variableAad = (serviceId: string, environmentId: string, name: string): string =>
  `variables/${serviceId}/${environmentId}/${name}`;
export const sharedAad = (environmentId: string, name: string): string => `shared/${environmentId}/${name}`;
export const deploymentAad = (deploymentId: string): string => `deployments/${deploymentId}/variables`;
export const projectSecretAad = (projectId: string, name: string): string =>
  `project-secrets/${projectId}/${name}`;
export const certificateAad = (hostname: string): string => `certificates/${hostname}/key`;
export const dataServicePasswordAad = (id: string): string => `data-services/${id}/password`;
export const bucketSecretAad = (id: string): string => `buckets/${id}/secret`;

/** Columns holding sealed values, for key rotation. */
export const SEALED_COLUMNS: SealedColumn[] = [
  {
    table: 'certificates',
    idColumns: ['hostname'],
    column: 'key_pem',
    aad: (r) => certificateAad(String(r.hostname)),
  },
  {
    table: 'variables',
    idColumns: ['service_id', 'environment_id', 'name'],
    column: 'value',
    aad: (r) => variableAad(String(r.service_id), String(r.environment_id), String(r.name)),
  },
  {
    table: 'shared_variables',
    idColumns: ['environment_id', 'name'],
    column: 'value',
    aad: (r) => sharedAad(String(r.environment_id), String(r.name)),
  },
  {
    table: 'deployments',
    idColumns: ['id'],
    column: 'variables_json',
    aad: (r) => deploymentAad(String(r.id)),
  },
  {
    table: 'project_secrets',
    idColumns: ['project_id', 'name'],
    column: 'value',
    aad: (r) => projectSecretAad(String(r.project_id), String(r.name)),
  },
  {
    table: 'data_services',
    idColumns: ['id'],
    column: 'password',
    aad: (r) => dataServicePasswordAad(String(r.id)),
  },
  {
    table: 'buckets',
    idColumns: ['id'],
    column: 'secret_access_key',
    aad: (r) => bucketSecretAad(String(r.id)),
  },
];

/** Seals any value still stored in plain text (databases from before encryption at rest). */
export function sealPlaintext(ctx: StoreContext): number {
  const { db, box } = ctx;
  let n = 0;
  db.transaction(() => {
    for (const c of SEALED_COLUMNS) {
      const rows = db.prepare(`SELECT * FROM ${c.table}`).all() as Row[];
      const where = c.idColumns.map((k) => `${k} = ?`).join(' AND ');
      const update = db.prepare(`UPDATE ${c.table} SET ${c.column} = ? WHERE ${where}`);
      for (const r of rows) {
        const v = String(r[c.column]);
        if (SecretBox.isSealed(v)) continue;
        update.run(box.seal(v, c.aad(r)), ...c.idColumns.map((k) => r[k]));
        n++;
      }
    }
  })();
  return n;
}
