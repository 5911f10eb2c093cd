/**
 * The format of a project token's secret is part of the API's contract (the CLI reads its project and
 * environment from it). Only its SHA-256 is stored (store.tokens.create); what it may reach is decided in
 * one place, api/auth.ts.
 */
export { PROJECT_TOKEN } from '../api/contract/tokens.js';
