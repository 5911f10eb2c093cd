export interface ServiceVariables {
  /** User-set variables of this service in this environment (may contain references). */
  variables: Record<string, string>;
  /** Variables Berth provides for this service (RAILWAY_PUBLIC_DOMAIN, RAILWAY_SERVICE_NAME, …); never contain references. */
  provided: Record<string, string>;
  /** Why a variable it would provide is missing, for the error naming it (a database not provisioned here). */
  missingHint?: string;
}

export interface ResolveInput {
  /** The service being deployed. */
  service: string;
  /** Every service of the same project+environment by name (including `service`). */
  services: Record<string, ServiceVariables>;
  /** Shared variables of the environment (may contain references). */
  shared: Record<string, string>;
}
