import type Provider from 'oidc-provider';
import type { AdminRefusalLimits } from '../admin/api.js';
import type { ResolvedOptions } from '../config.js';
import { createDelegationService, type DelegationService } from '../delegations/service.js';
import { ClientGuessing } from '../exchange/client-guessing.js';
import { createLimiter, type LimiterStore } from '../exchange/rate-limit.js';
import { ResourceServerRegistry } from '../exchange/targets.js';
import type { ExchangedTokenPolicy } from '../lifecycle/endpoints.js';
import type { ImpersonationLifecycle } from '../lifecycle/service.js';
import { boundedLogger, silentLogger, type Logger } from '../observability/logger.js';
import { createMetrics, type ExchangeMetrics } from '../observability/metrics.js';
import { createMemoryStore, type Store } from '../store/index.js';
import { wireAuditTrail, type AuditTrail } from './audit-trail.js';

/**
 * What the parts built before the provider exists reach once it does. Each accessor throws a
 * `ConfigurationError` until `register(provider)` ran.
 */
export interface AfterRegister {
  provider(): Provider;
  lifecycle(): ImpersonationLifecycle;
}

/**
 * The provider's own pages mounted on this instance (docs/browser-impersonation.md): their clients
 * are never opened by a ticket, and the account page answers the one-time approval links.
 */
export class OwnPages {
  readonly #firstPartyClients: Set<string>;
  #approvalLinkRoute: string | undefined;

  constructor(firstPartyClients: readonly string[]) {
    this.#firstPartyClients = new Set(firstPartyClients);
  }

  /** Whether a client is one of the provider's own pages (configured, or mounted here). */
  isFirstParty(clientId: string): boolean {
    return this.#firstPartyClients.has(clientId);
  }

  /** A page signing its user in as this client was mounted. */
  mounted(clientId: string): void {
    this.#firstPartyClients.add(clientId);
  }

  /** The account page was mounted: approval links are answered at this URL. */
  answerApprovalLinksAt(url: string): void {
    this.#approvalLinkRoute = url;
  }

  /** Where the account page answers one-time approval links, once it is mounted. */
  approvalLinkRoute(): string | undefined {
    return this.#approvalLinkRoute;
  }
}

/** What `tokenExchange(options)` builds before any provider exists. */
export interface Foundation {
  readonly options: ResolvedOptions;
  readonly store: Store;
  /** Where rate-limit counters live: in Redis (shared by every instance) on a Redis store, else in this process. */
  readonly limiterStore: LimiterStore;
  readonly logger: Logger;
  readonly metrics: ExchangeMetrics;
  readonly audit: AuditTrail;
  readonly resourceServers: ResourceServerRegistry;
  readonly ownPages: OwnPages;
  /** docs/policy.md "Rate limits": refused admin API requests, per caller and per address. */
  readonly adminRefusals: AdminRefusalLimits;
  /** Client-secret guessing, per address and per client named: the token, introspection and revocation endpoints and the resource servers' routes share it (docs/policy.md "Rate limits"). */
  readonly guessing: ClientGuessing;
  readonly exchangedTokens: ExchangedTokenPolicy;
  /** The claims an exchanged token is issued with, set by the grant, read by `extraTokenClaims`. */
  readonly tokenClaims: WeakMap<object, Record<string, unknown>>;
  /** Requests whose outcome the grant audited itself (the endpoint guard audits the others). */
  readonly audited: WeakSet<object>;
  /** Users' delegations to agent clients (docs/beyond-impersonation.md). */
  readonly delegations: DelegationService;
}

/** RFC 7662 §4 and RFC 7009 §2.1 for exchanged tokens: the resource servers they are for, and (revocation) their client. */
function exchangedTokenPolicy(resourceServers: ResourceServerRegistry): ExchangedTokenPolicy {
  return {
    mayIntrospect: (clientId, audience) => audience.some((aud) => resourceServers.servedBy(clientId).includes(aud)),
    mayRevoke: (clientId, token) => token.clientId === clientId || token.audience.some((aud) => resourceServers.servedBy(clientId).includes(aud)),
  };
}

/** Builds every part that needs no provider, from validated options. */
export function buildFoundation(options: ResolvedOptions, afterRegister: AfterRegister): Foundation {
  const store = options.store ?? createMemoryStore();
  const limiterStore = { redisClient: store.backend.redisClient, keyPrefix: `${store.keys.prefix}ratelimit` };
  const logger = boundedLogger(options.logger ?? silentLogger);
  const metrics = createMetrics(() => store.impersonations.count());
  const audit = wireAuditTrail(options, { logger, metrics });
  const resourceServers = new ResourceServerRegistry(options.resourceServers);
  const tokenClaims = new WeakMap<object, Record<string, unknown>>();
  return {
    options,
    store,
    limiterStore,
    logger,
    metrics,
    audit,
    resourceServers,
    ownPages: new OwnPages(options.tickets.firstPartyClients),
    adminRefusals: {
      byCaller: createLimiter(options.policy.rateLimit, limiterStore, { failOpen: true }),
      byAddress: createLimiter(options.policy.unauthenticatedRateLimit, limiterStore, { failOpen: true }),
    },
    guessing: new ClientGuessing(createLimiter(options.policy.unauthenticatedRateLimit, limiterStore, { failOpen: true })),
    exchangedTokens: exchangedTokenPolicy(resourceServers),
    tokenClaims,
    audited: new WeakSet<object>(),
    delegations: createDelegationService({
      options,
      provider: () => afterRegister.provider(),
      store: store.delegations,
      lifecycle: () => afterRegister.lifecycle(),
      recorder: audit.recorder,
      attachClaims: (token, claims) => tokenClaims.set(token, claims),
      isEnabled: () => afterRegister.lifecycle().isEnabled(),
    }),
  };
}
