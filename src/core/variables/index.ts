/**
 * Variables: `${{…}}` reference resolution (railway-compat §2.1), deploy ordering from references,
 * and log redaction of secret values. Pure functions, no I/O. Interface: README.md.
 */
export type { ReferenceProblem } from './errors.js';
export { VariableReferenceError } from './errors.js';
export { deployOrder } from './order.js';
export { isSecretName, MIN_SECRET_LENGTH, makeRedactor, REDACTED, secretPartsOf } from './redact.js';
export { MAX_RESOLVED_LENGTH, referencedServices, resolveVariables } from './resolve.js';
export type { ResolveInput, ServiceVariables } from './types.js';
