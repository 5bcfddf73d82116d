import type { Configuration } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { AccountPageOptions } from './account/page.js';
import type { AdminConsoleOptions } from './admin/console/index.js';
import type { ApprovalRequest, ApprovalView } from './approvals/service.js';
import type { AuditLog } from './audit/log.js';
import type { MintedTicket, TicketRequest } from './browser/tickets.js';
import { resolveOptions, type ResolvedOptions, type TokenExchangeOptions } from './config.js';
import type { DelegationService } from './delegations/service.js';
import { composeConfiguration, readHostFacts } from './extension/configuration.js';
import { buildFoundation } from './extension/foundation.js';
import { accountPage, adminApi, adminConsole, receipts, revocationFeed, type Middleware } from './extension/pages.js';
import { Phases } from './extension/phases.js';
import { register } from './extension/register.js';
import { libraryCall } from './extension/request-facts.js';
import type { ExchangeMetrics } from './observability/metrics.js';
import type { ImpersonationFilter, ImpersonationRecord, Store } from './store/index.js';

/** The extension, between validating its options and registering on a provider. */
export interface TokenExchange {
  /** Validated options, every default filled in. */
  readonly options: ResolvedOptions;
  /** Users' delegations to agent clients: ask, grant, pause, resume, end, collect (docs/beyond-impersonation.md). */
  readonly delegations: DelegationService;
  /** The store: pass `store.adapter` to oidc-provider (done by `configuration()` when you set none). */
  readonly store: Store;
  /**
   * Returns the host's oidc-provider configuration with what the extension needs at construction:
   * `extraTokenClaims` (for `act`) composed with the host's, the resource servers, introspection
   * (RFC 7662) and revocation (RFC 7009) enabled with their policies for exchanged tokens, and —
   * unless the host has its own — the store's adapter. Pass the result to `new Provider(issuer, …)`.
   * Throws a `ConfigurationError` when the host has no `jwks` or `findAccount`, or turned
   * `features.introspection` or `features.revocation` off.
   */
  configuration(host: Configuration): Configuration;
  /** Registers the grant and its endpoint middleware on the provider built from `configuration()`. */
  register(provider: Provider): void;
  /**
   * docs/browser-impersonation.md §1 as a library call (the admin API's `POST /admin/api/tickets`): every rule of an
   * impersonation, then a one-time ticket and the URL that opens the client as the subject.
   */
  mintTicket(request: TicketRequest): Promise<MintedTicket>;
  /**
   * Subject-approved access as library calls (the admin API's `POST /admin/api/approvals`, the
   * subject's page): ask, list, answer (as the subject), revoke (as the subject; ends what started
   * under the approval). Every step is audited.
   */
  requestApproval(request: ApprovalRequest): Promise<ApprovalView>;
  listApprovals(filter: { subject: string } | { actor: string }): Promise<ApprovalView[]>;
  answerApproval(id: string, subject: string, decision: 'approve' | 'decline'): Promise<ApprovalView>;
  revokeApproval(id: string, subject: string): Promise<number>;
  /** Live impersonations (docs/introspection-revocation.md). */
  list(filter: ImpersonationFilter): Promise<ImpersonationRecord[]>;
  /** Bulk revocation: every live impersonation of an actor, of a subject, or all. Answers how many ended. */
  revoke(filter: ImpersonationFilter, by?: { actor?: string }): Promise<number>;
  /** The global switch, shared by every instance on the store; off ends every live impersonation. */
  setEnabled(enabled: boolean, by?: { actor?: string }): Promise<number>;
  isEnabled(): Promise<boolean>;
  /** Call when an account changes: ends its impersonations if it may no longer impersonate. */
  actorChanged(actorId: string): Promise<number>;
  /**
   * Koa middleware serving the subject's page (docs/browser-impersonation.md §5) at `<basePath>/impersonations` (default
   * `/account`), signing its user in as the given first-party confidential client (register it with
   * the redirect URI `<issuer><basePath>/callback`). No ticket is minted or redeemed for that client.
   */
  accountPage(options: AccountPageOptions): Middleware;
  /**
   * Koa middleware serving the support console (docs/admin-console.md) under `basePath` (default `/admin`),
   * signing agents in as the given first-party confidential client (redirect URI
   * `<issuer><basePath>/callback`, allowed the `impersonation:admin` scope). No ticket is minted or
   * redeemed for that client.
   */
  adminConsole(options: AdminConsoleOptions): Middleware;
  /** Koa middleware serving the JSON admin API under `basePath` (default `/admin/api`). */
  adminApi(options?: { basePath?: string }): Middleware;
  /**
   * Koa middleware for `provider.use`: the revocation feed, `GET /revocations?after=<cursor>`
   * (docs/resource-server.md, "The revocation feed"), which resource servers verifying JWTs locally
   * poll to refuse revoked tokens within seconds.
   */
  revocationFeed(options?: { path?: string }): Middleware;
  /**
   * Koa middleware for `provider.use`: activity receipts, `POST /receipts` (docs/beyond-impersonation.md,
   * "Activity receipts"), where resource servers report the requests they accepted under an `act`
   * token; each becomes an `api.request` audit record.
   */
  receipts(options?: { path?: string }): Middleware;
  /** The chained audit log (absent when a plain `audit` sink was given). */
  readonly auditLog: AuditLog | undefined;
  /** Prometheus instruments; serve `metrics.registry.metrics()`. */
  readonly metrics: ExchangeMetrics;
  /** Stops the webhook dispatcher (waits for a delivery round in flight). */
  close(): Promise<void>;
}

/**
 * Creates the RFC 8693 token-exchange extension for an oidc-provider 9 instance. Options are
 * validated at once; a bad field throws a `ConfigurationError` that names it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693
 */
export function tokenExchange(input: TokenExchangeOptions): TokenExchange {
  const options = resolveOptions(input);
  const phases = new Phases();
  // What needs no provider, built once here; configuration(host) and register(provider) add the rest.
  const base = buildFoundation(options, phases);
  const registered = () => phases.registered();
  return {
    options,
    delegations: base.delegations,
    store: base.store,
    configuration(host) {
      phases.configured(readHostFacts(host, base.store));
      return composeConfiguration(host, {
        ...base,
        refuseRevocation: async (token, by) => {
          if (phases.isRegistered()) await registered().lifecycle.refuseRevocation(token, by);
        },
      });
    },
    register: (provider) => phases.register((host) => register(provider, base, host)),
    list: (filter) => registered().lifecycle.list(filter),
    requestApproval: (request) => registered().approvals.request(request, libraryCall()),
    listApprovals: (filter) => registered().approvals.list(filter),
    answerApproval: (id, subject, decision) => registered().approvals.answer(id, subject, decision, 'page', libraryCall()),
    revokeApproval: (id, subject) => registered().approvals.revoke(id, subject, libraryCall()),
    mintTicket: (request) => registered().tickets.mint(request, libraryCall()),
    revoke: (filter, by) => registered().lifecycle.revoke(filter, { actor: by?.actor, request: libraryCall() }),
    setEnabled: (enabled, by) => registered().lifecycle.setEnabled(enabled, { actor: by?.actor, request: libraryCall() }),
    isEnabled: () => registered().lifecycle.isEnabled(),
    actorChanged: (actorId) => registered().lifecycle.actorChanged(actorId, libraryCall()),
    accountPage: (pageOptions) => accountPage(base, registered(), pageOptions),
    adminConsole: (consoleOptions) => adminConsole(base, registered(), consoleOptions),
    adminApi: (adminOptions) => adminApi(base, registered(), adminOptions),
    receipts: (receiptOptions) => receipts(base, registered(), receiptOptions),
    revocationFeed: (feedOptions) => revocationFeed(base, registered(), feedOptions),
    auditLog: base.audit.auditLog,
    metrics: base.metrics,
    close: async () => base.audit.dispatcher?.stop(),
  };
}
