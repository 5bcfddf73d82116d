import type { KoaContextWithOIDC } from 'oidc-provider';
import { createAccountPage, type AccountPageOptions } from '../account/page.js';
import { createAdminApi } from '../admin/api.js';
import { createAdminConsole, type AdminConsoleOptions } from '../admin/console/index.js';
import { createReceiptsEndpoint } from '../lifecycle/receipts.js';
import { createRevocationFeed } from '../lifecycle/revocation-feed.js';
import type { Foundation } from './foundation.js';
import type { Registered } from './registered.js';
import { requestFacts } from './request-facts.js';

/** Koa middleware as `provider.use` and a Koa app take it. */
export type Middleware = (ctx: KoaContextWithOIDC, next: () => Promise<unknown>) => Promise<void>;

/** docs/browser-impersonation.md §5: the subject's page, signing its user in as `options.clientId`. */
export function accountPage(base: Foundation, registered: Registered, options: AccountPageOptions): Middleware {
  const { provider } = registered;
  base.ownPages.mounted(options.clientId);
  base.ownPages.answerApprovalLinksAt(`${provider.issuer.replace(/\/$/, '')}${options.basePath ?? '/account'}/approvals/respond`);
  return createAccountPage({
    issuer: provider.issuer,
    options,
    lifecycle: registered.lifecycle,
    approvals: registered.approvals,
    delegations: base.delegations,
    accounts: base.options.accounts,
    store: base.store,
    requestFacts: (ctx) => requestFacts(ctx as KoaContextWithOIDC),
    clientName: async (id) => (await provider.Client.find(id))?.clientName as string | undefined,
  }) as unknown as Middleware;
}

/** docs/admin-console.md: the support console, signing agents in as `options.clientId`. */
export function adminConsole(base: Foundation, registered: Registered, options: AdminConsoleOptions): Middleware {
  base.ownPages.mounted(options.clientId);
  return createAdminConsole({
    provider: registered.provider,
    options,
    accounts: base.options.accounts,
    lifecycle: registered.lifecycle,
    tickets: registered.tickets,
    auditLog: base.audit.auditLog,
    auth: registered.adminAuth,
    store: base.store,
    approvals: registered.approvals,
    rules: registered.rules,
    policy: base.options.policy,
    requestFacts: (ctx) => requestFacts(ctx as KoaContextWithOIDC),
  });
}

/** The JSON admin API under `basePath` (default `/admin/api`). */
export function adminApi(base: Foundation, registered: Registered, options: { basePath?: string } | undefined): Middleware {
  return createAdminApi({
    provider: registered.provider,
    lifecycle: registered.lifecycle,
    auditLog: base.audit.auditLog,
    tickets: registered.tickets,
    approvals: registered.approvals,
    requestFacts,
    logger: base.logger,
    recorder: base.audit.recorder,
    refusals: base.adminRefusals,
    auth: registered.adminAuth,
    ...options,
  });
}

/** docs/beyond-impersonation.md "Activity receipts": `POST /receipts` from the resource servers. */
export function receipts(base: Foundation, registered: Registered, options: { path?: string } | undefined): Middleware {
  return createReceiptsEndpoint({
    provider: registered.provider,
    impersonations: base.store.impersonations,
    recorder: base.audit.recorder,
    servedBy: (clientId) => base.resourceServers.servedBy(clientId),
    requestFacts: (ctx) => requestFacts(ctx),
    logger: base.logger,
    guessing: base.guessing,
    ...(options?.path ? { path: options.path } : {}),
  }) as unknown as Middleware;
}

/** docs/resource-server.md "The revocation feed": `GET /revocations?after=<cursor>`. */
export function revocationFeed(base: Foundation, registered: Registered, options: { path?: string } | undefined): Middleware {
  return createRevocationFeed({
    provider: registered.provider,
    log: base.store.revocations,
    jwks: registered.host.jwks,
    servedBy: (clientId) => base.resourceServers.servedBy(clientId),
    logger: base.logger,
    guessing: base.guessing,
    ...(options?.path ? { path: options.path } : {}),
  });
}
