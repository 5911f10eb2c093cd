/**
 * The secret of a project token (Railway's RAILWAY_TOKEN): it names its project and environment by id — so a CLI
 * holding only the token knows where to deploy, as Railway's does — then 24 random bytes. Only its SHA-256 is
 * stored (store.tokens.create); what it may reach is decided in one place, api/auth.ts.
 */
export const PROJECT_TOKEN = /^berth_pt_([0-9a-f-]{36})_([0-9a-f-]{36})_[0-9a-f]{48}$/;
