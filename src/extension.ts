import { randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import { errors, type Configuration, type FindAccount, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { createAccountPage, type AccountPageOptions } from './account/page.js';
import { createAdminApi } from './admin/api.js';
import { createAdminAuthenticator, type AdminAuthenticator } from './admin/auth.js';
import { createAdminConsole, type AdminConsoleOptions } from './admin/console/index.js';
import { ApprovalLinks } from './approvals/links.js';
import { createApprovalService, type ApprovalRequest, type ApprovalService, type ApprovalView } from './approvals/service.js';
import { composeLogoutSource } from './browser/ending.js';
import { createImpersonationInteraction } from './browser/interaction.js';
import { composeBrowserConfiguration } from './browser/provider-config.js';
import { createAllowedScopes } from './browser/scopes.js';
import { createTicketService, type MintedTicket, type TicketRequest, type TicketService } from './browser/tickets.js';
import { ChainedAuditSink } from './audit/chained-sink.js';
import { createAgentApi } from './delegations/agent-api.js';
import { createDelegationService, type DelegationService } from './delegations/service.js';
import type { AuditEvent } from './audit/events.js';
import type { AuditLog } from './audit/log.js';
import { MemoryAuditLog } from './store/audit-memory.js';
import { AuditRecorder, type RequestFacts } from './audit/recorder.js';
import { createMetrics, type ExchangeMetrics } from './observability/metrics.js';
import { boundedLogger, silentLogger } from './observability/logger.js';
import { createSubjectNotifier } from './notify/notifier.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import { webhookSubscriber } from './webhooks/events.js';
import { ConfigurationError, resolveOptions, type ResolvedOptions, type TokenExchangeOptions } from './config.js';
import { GRANT_PARAMETERS, IMPERSONATION_AMR, REPEATABLE_PARAMETERS, TOKEN_EXCHANGE_GRANT, TokenType } from './constants.js';
import { AI_AGENT_PROFILE, CLIENT_PROFILE, isEntityProfile, SERVICE_PROFILE, USER_PROFILE } from './exchange/actor-profiles.js';
import { createTokenExchangeHandler } from './exchange/grant.js';
import { createEndpointGuard, type GuardedPaths } from './exchange/endpoint-guard.js';
import { auditableTokenId } from './exchange/token-ids.js';
import { createIdTokenRecorder } from './lifecycle/id-token-records.js';
import { createIssuerKeys } from './exchange/keys.js';
import { createImpersonationRules } from './exchange/rules.js';
import { providerTokenLookup } from './exchange/provider-lookup.js';
import { createActorRateLimiter, createLimiter } from './exchange/rate-limit.js';
import { audienceOf, ResourceServerRegistry } from './exchange/targets.js';
import { createRevocationFeed } from './lifecycle/revocation-feed.js';
import { createReceiptsEndpoint } from './lifecycle/receipts.js';
import { createLifecycleEndpoints, REVOCATION_NOT_ALLOWED, type ExchangedTokenPolicy } from './lifecycle/endpoints.js';
import { ImpersonationLifecycle } from './lifecycle/service.js';
import { createMemoryStore, type ImpersonationFilter, type ImpersonationRecord, type Store } from './store/index.js';
import { createPageSecurity } from './web/provider-pages.js';

type Middleware = (ctx: KoaContextWithOIDC, next: () => Promise<unknown>) => Promise<void>;

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
   * Throws a {@link ConfigurationError} when the host has no `jwks` or `findAccount`, or turned
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

const REQUEST_ID_HEADER = 'x-request-id';
/** Where `interactions.url` sends logins that carry a ticket (docs/browser-impersonation.md §3). */
const INTERACTION_PATH = '/impersonation/interaction';
const DEFAULT_CLOCK_TOLERANCE = 15;
const INTERNAL_REQUEST: RequestFacts = { ip: undefined, userAgent: undefined, requestId: 'library-call' };

const factsOfRequest = new WeakMap<object, RequestFacts>();

/** The request facts every audit record and log line of one request shares (one request id). */
function requestFacts(ctx: KoaContextWithOIDC | undefined): RequestFacts {
  if (!ctx?.get) return { ...INTERNAL_REQUEST, requestId: randomUUID() };
  const known = factsOfRequest.get(ctx);
  if (known) return known;
  const given = ctx.get(REQUEST_ID_HEADER);
  const facts = {
    ip: ctx.ip || undefined,
    userAgent: ctx.get('user-agent') || undefined,
    requestId: /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID(),
  };
  factsOfRequest.set(ctx, facts);
  return facts;
}

/** The facts the introspection and revocation policies need, for a token of this grant only. */
function exchanged(token: { gty?: unknown; clientId?: unknown; aud?: unknown; accountId?: unknown; jti?: unknown; format?: unknown }) {
  return token.gty === TOKEN_EXCHANGE_GRANT
    ? {
        clientId: String(token.clientId),
        audience: audienceOf(token.aud),
        subject: typeof token.accountId === 'string' ? token.accountId : undefined,
        tokenId: auditableTokenId(String(token.jti), String(token.format)),
      }
    : undefined;
}

/** Whether a token carries `act` or `impersonation` (docs/browser-impersonation.md), whatever grant issued it. */
function impersonating(token: { extra?: unknown }): boolean {
  const extra = token.extra as Record<string, unknown> | undefined;
  return typeof extra === 'object' && extra !== null && (extra.act !== undefined || extra.impersonation !== undefined);
}

/**
 * Creates the RFC 8693 token-exchange extension for an oidc-provider 9 instance. Options are
 * validated at once; a bad field throws a {@link ConfigurationError} that names it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693
 */
export function tokenExchange(input: TokenExchangeOptions): TokenExchange {
  const options = resolveOptions(input);
  const store = options.store ?? createMemoryStore();
  // Rate-limit counters: in Redis (shared by every instance) on a Redis store, else in this process.
  const limiterStore = { redisClient: store.backend.redisClient, keyPrefix: `${store.keys.prefix}ratelimit` };
  /** The clients of the provider's own pages: never opened by a ticket (docs/browser-impersonation.md). */
  const firstPartyClients = new Set(options.tickets.firstPartyClients);
  /** docs/policy.md "Rate limits": refused admin API requests, per caller and per address. */
  const adminRefusals = {
    byCaller: createLimiter(options.policy.rateLimit, limiterStore, { failOpen: true }),
    byAddress: createLimiter(options.policy.unauthenticatedRateLimit, limiterStore, { failOpen: true }),
  };
  const resourceServers = new ResourceServerRegistry(options.resourceServers);
  const logger = boundedLogger(options.logger ?? silentLogger);
  const auditLog = options.audit ? undefined : (options.auditLog ?? new MemoryAuditLog());
  const metrics = createMetrics(() => store.impersonations.count());
  const logRecord = (event: AuditEvent) => {
    const { event: name, outcome, rule, client_id, actor, subject, token_id, request_id } = event;
    logger.info({ event: name, outcome, rule, client_id, actor, subject, token_id, request_id }, 'audit');
  };
  const recorder = new AuditRecorder(options.audit ?? new ChainedAuditSink(auditLog!, [webhookSubscriber(options.webhooks.endpoints)]), [metrics.observeAudit, logRecord]);
  const { endpoints, ...delivery } = options.webhooks;
  const dispatcher = auditLog ? new WebhookDispatcher(auditLog, endpoints, delivery, { logger, observe: metrics.observeWebhook }) : undefined;
  const tokenClaims = new WeakMap<object, Record<string, unknown>>();
  const audited = new WeakSet<object>();
  let providerRef: Provider | undefined;
  let captured:
    | {
        jwks: { keys: JWK[] };
        findAccount: FindAccount;
        clockTolerance: number;
        sharedAdapter: boolean;
        authorizationPath: string;
        guardedPaths: GuardedPaths;
        scopes: string[];
      }
    | undefined;
  let tickets: TicketService | undefined;
  let lifecycle: ImpersonationLifecycle | undefined;
  let approvals: ApprovalService | undefined;
  /** Users' delegations to agent clients (docs/beyond-impersonation.md). */
  const delegations = createDelegationService({
    options,
    provider: () => providerRef!,
    store: store.delegations,
    lifecycle: () => registered(),
    recorder,
    attachClaims: (token, claims) => tokenClaims.set(token, claims),
    isEnabled: () => registered().isEnabled(),
  });
  let rulesRef: ReturnType<typeof createImpersonationRules> | undefined;
  /** Where the account page answers one-time approval links, once it is mounted. */
  let approvalLinkRoute: string | undefined;
  let adminAuth: AdminAuthenticator | undefined;
  /** The one authorization path of the admin API and the support console (docs/admin-console.md). */
  function adminAuthenticator(): AdminAuthenticator {
    adminAuth ??= createAdminAuthenticator(providerRef!, registered(), { clockTolerance: captured!.clockTolerance });
    return adminAuth;
  }
  const notifier = createSubjectNotifier(options.hooks.notifySubject, logger);

  const exchangedTokens: ExchangedTokenPolicy = {
    mayIntrospect: (clientId, audience) => audience.some((aud) => resourceServers.servedBy(clientId).includes(aud)),
    mayRevoke: (clientId, token) => token.clientId === clientId || token.audience.some((aud) => resourceServers.servedBy(clientId).includes(aud)),
  };

  function configuration(host: Configuration): Configuration {
    if (!host.jwks?.keys?.length) {
      throw new ConfigurationError('token exchange needs configuration.jwks: it verifies JWTs this provider signed');
    }
    if (typeof host.findAccount !== 'function') {
      throw new ConfigurationError("token exchange needs configuration.findAccount: ID tokens carry the subject's claims");
    }
    captured = {
      jwks: host.jwks as { keys: JWK[] },
      findAccount: host.findAccount,
      clockTolerance: host.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE,
      sharedAdapter: host.adapter === undefined || host.adapter === store.adapter,
      authorizationPath: host.routes?.authorization ?? '/auth',
      guardedPaths: {
        token: host.routes?.token ?? '/token',
        introspection: host.routes?.introspection ?? '/token/introspection',
        revocation: host.routes?.revocation ?? '/token/revocation',
      },
      scopes: [...new Set(['openid', 'offline_access', ...(host.scopes ?? [])])],
    };
    const { resourceIndicators: hostIndicators, introspection: hostIntrospection = {}, revocation: hostRevocation = {} } = host.features ?? {};
    // RFC 7662 and RFC 7009 are how resource servers see an impersonation end and how a token of it
    // is ended (docs/introspection-revocation.md): on unless the host turned one off on purpose, which is an error here rather
    // than an endpoint quietly opened or an impersonation that cannot be revoked.
    for (const [feature, settings] of [['introspection', hostIntrospection], ['revocation', hostRevocation]] as const) {
      if (settings.enabled === false) {
        throw new ConfigurationError(`token exchange needs features.${feature}: exchanged tokens are ${feature === 'introspection' ? 'introspected' : 'revoked'} there (set enabled: true, or leave it out)`);
      }
    }
    const hostResourceInfo = hostIndicators?.getResourceServerInfo;

    const browser = composeBrowserConfiguration(host, {
      impersonations: store.impersonations,
      maxLifetimeSeconds: options.policy.maxLifetimeSeconds,
      interactionPath: INTERACTION_PATH,
      exchangeClaims: (token) => tokenClaims.get(token),
      recordJwt: (jti, grantId, ttl, audience) => store.impersonations.addJwt(jti, grantId, ttl, audience),
    });
    const browserMetadata = browser.extraClientMetadata ?? {};
    return {
      ...browser,
      // draft-mora-oauth-entity-profiles §6: a client declares its kind (`client_profile`), which
      // names it in `act.sub_profile` when it acts for someone (docs/beyond-impersonation.md).
      extraClientMetadata: {
        ...browserMetadata,
        properties: [...new Set([...(browserMetadata.properties ?? []), CLIENT_PROFILE])],
        validator(ctx, key, value, metadata) {
          if (key === CLIENT_PROFILE && value !== undefined && !isEntityProfile(value)) {
            throw new errors.InvalidClientMetadata(`${CLIENT_PROFILE} must be space-separated entity profiles (e.g. ai_agent)`);
          }
          return browserMetadata.validator?.(ctx, key, value, metadata);
        },
      },
      // draft-mcguinness-oauth-actor-profile §10.1 and draft-mora-oauth-entity-profiles §5: which
      // kinds of actor this provider names, and what its token exchange accepts.
      discovery: {
        ...host.discovery,
        entity_profiles_supported: {
          actor: [...new Set([USER_PROFILE, SERVICE_PROFILE, AI_AGENT_PROFILE, ...Object.keys(options.policy.actorProfiles)])],
          subject: [USER_PROFILE],
        },
        actor_profile_token_exchange: {
          subject_token_types_supported: [TokenType.accessToken, TokenType.idToken, TokenType.jwt],
          actor_token_types_supported: [TokenType.accessToken, TokenType.idToken, TokenType.jwt],
          requested_token_types_supported: [TokenType.accessToken, TokenType.jwt, TokenType.idToken],
        },
      },
      adapter: host.adapter ?? store.adapter,
      features: {
        // RP-initiated logout of an impersonated session ends it without a question (docs/browser-impersonation.md).
        ...composeLogoutSource(host.features),
        resourceIndicators: {
          ...hostIndicators,
          enabled: true,
          async getResourceServerInfo(ctx, indicator, client) {
            const known = resourceServers.byIdentifier(indicator);
            if (known) {
              const { scope, accessTokenFormat, audience } = known.definition;
              return { scope, accessTokenFormat, ...(audience ? { audience } : {}) };
            }
            if (hostResourceInfo) return hostResourceInfo(ctx, indicator, client);
            throw new errors.InvalidTarget();
          },
        },
        // RFC 7662 §4: an exchanged token, and any token of an impersonation (a browser session's
        // come from the authorization-code grant), is introspected only by the resource servers it is for.
        introspection: {
          ...hostIntrospection,
          enabled: true,
          async allowedPolicy(ctx, client, token) {
            const model = token as { gty?: unknown; extra?: unknown; aud?: unknown };
            if (exchanged(model) || impersonating(model)) return exchangedTokens.mayIntrospect(client.clientId, audienceOf(model.aud));
            if (hostIntrospection.allowedPolicy) return hostIntrospection.allowedPolicy(ctx, client, token);
            return client.clientAuthMethod !== 'none' || token.clientId === client.clientId;
          },
        },
        // RFC 7009 §2.1: its client, or a resource server it is for, may revoke an exchanged token;
        // any other client is refused (and audited), and the token left alone.
        revocation: {
          ...hostRevocation,
          enabled: true,
          async allowedPolicy(ctx, client, token) {
            const facts = exchanged(token);
            if (facts) {
              if (exchangedTokens.mayRevoke(client.clientId, facts)) return true;
              await lifecycle?.refuseRevocation(facts, { actor: client.clientId, request: requestFacts(ctx) });
              throw new errors.InvalidRequest(REVOCATION_NOT_ALLOWED);
            }
            if (hostRevocation.allowedPolicy) return hostRevocation.allowedPolicy(ctx, client, token);
            if (token.clientId === client.clientId) return true;
            if (client.clientAuthMethod === 'none') return false;
            throw new errors.InvalidRequest(REVOCATION_NOT_ALLOWED);
          },
        },
      } as Configuration['features'],
    };
  }

  function registered(): ImpersonationLifecycle {
    if (!lifecycle) throw new ConfigurationError('register the extension on a provider first: exchange.register(provider)');
    return lifecycle;
  }

  function register(provider: Provider): void {
    if (!captured) {
      throw new ConfigurationError('build the provider from exchange.configuration(yourConfiguration) before exchange.register(provider)');
    }
    if (lifecycle) throw new ConfigurationError('token exchange is already registered');
    providerRef = provider;
    // Outermost of the extension's middleware: the provider's pages refuse framing (docs/security.md).
    provider.use(createPageSecurity(provider));
    const life = new ImpersonationLifecycle(store, provider, options.accounts, options.policy, recorder, captured.sharedAdapter, logger);
    lifecycle = life;
    const keys = createIssuerKeys(provider.issuer, captured.jwks, options.trustedIssuers);
    const rules = createImpersonationRules({
      options,
      rateLimiter: createActorRateLimiter(options.policy, limiterStore),
      approvals: store.approvals,
    });
    rulesRef = rules;
    const approvalService = createApprovalService({
      options,
      rules,
      store: store.approvals,
      links: new ApprovalLinks(store.backend, store.keys),
      recorder,
      lifecycle: life,
      notifier,
      logger,
      isEnabled: () => life.isEnabled(),
      linkRoute: () => approvalLinkRoute,
    });
    approvals = approvalService;

    const handler = createTokenExchangeHandler({
      options,
      recorder,
      registry: {
        isEnabled: () => life.isEnabled(),
        add: (record, ttl) => store.impersonations.add(record, ttl),
        addJwt: (jti, grantId, ttl, audience) => store.impersonations.addJwt(jti, grantId, ttl, audience),
        get: (grantId) => store.impersonations.get(grantId),
      },
      verify: {
        keys,
        lookup: providerTokenLookup(provider, store.impersonations),
        ownIssuer: provider.issuer,
        clockTolerance: captured.clockTolerance,
        needsAuthTime: options.policy.maxActorAuthAgeSeconds !== undefined,
      },
      rules,
      resourceServers,
      issue: {
        newBatch: () => store.batch(),
        attachClaims: (token, claims) => tokenClaims.set(token, claims),
        findAccount: captured.findAccount,
      },
      requestFacts,
      markAudited: (ctx) => audited.add(ctx),
      observeDuration: metrics.observeDuration,
      logger,
      notifier,
      confirmStarted: approvalService.confirmStarted,
      delegations,
    });
    provider.registerGrantType(TOKEN_EXCHANGE_GRANT, handler, GRANT_PARAMETERS, REPEATABLE_PARAMETERS);
    provider.use(
      createEndpointGuard({
        recorder,
        wasAudited: (ctx) => audited.has(ctx),
        requestFacts,
        paths: captured.guardedPaths,
        unauthenticated: createLimiter(options.policy.unauthenticatedRateLimit, limiterStore, { failOpen: true }),
        perClient: createLimiter(options.policy.clientRateLimit, limiterStore, { failOpen: true }),
      }),
    );
    const service = createTicketService({
      options,
      rules,
      provider,
      tickets: store.tickets,
      impersonations: store.impersonations,
      recorder,
      isEnabled: () => life.isEnabled(),
      mayStillImpersonate: (actorId) => life.accountMayImpersonate(actorId),
      allowedScopes: createAllowedScopes(options, resourceServers, captured.scopes),
      authorizationEndpoint: `${provider.issuer.replace(/\/$/, '')}${captured.authorizationPath}`,
      notifier,
      isFirstParty: (clientId) => firstPartyClients.has(clientId),
      approvals: {
        isRevoked: async (id) => (await store.approvals.get(id))?.status === 'revoked',
        confirmStarted: approvalService.confirmStarted,
      },
    });
    tickets = service;
    if (options.delegations.agents.length) provider.use(createAgentApi({ provider, delegations, requestFacts }) as unknown as Parameters<Provider['use']>[0]);
    provider.use(
      createImpersonationInteraction({
        provider,
        tickets: service,
        path: INTERACTION_PATH,
        requestFacts,
        logger,
        actorOf: async (grantId) => {
          const record = await store.impersonations.get(grantId);
          return record?.actorAccount ?? record?.actors.at(-1);
        },
      }),
    );
    // docs/browser-impersonation.md §4: the session a browser impersonation lives in ends with it.
    provider.on('authorization_code.saved', (code: { amr?: string[]; grantId?: string; sessionUid?: string }) => {
      if (code.amr?.includes(IMPERSONATION_AMR) && code.grantId && code.sessionUid) {
        store.impersonations.attachSession(code.grantId, code.sessionUid, Math.floor(Date.now() / 1000)).catch(() => undefined);
      }
    });
    provider.use(createIdTokenRecorder({ record: (id, grantId, ttl) => store.impersonations.addJwt(id, grantId, ttl), logger }));
    provider.use(
      createLifecycleEndpoints({
        provider,
        lifecycle: life,
        impersonations: store.impersonations,
        keys,
        clockTolerance: captured.clockTolerance,
        policy: exchangedTokens,
        requestFacts,
        logger,
      }),
    );
    // Learns the store's marker at start-up, so that a store emptied later is noticed (docs/introspection-revocation.md switch).
    life.isEnabled().catch(() => undefined);
    dispatcher?.start();
  }

  return {
    options,
    delegations,
    store,
    configuration,
    register,
    list: (filter) => registered().list(filter),
    requestApproval: (request) => {
      registered();
      return approvals!.request(request, requestFacts(undefined));
    },
    listApprovals: (filter) => {
      registered();
      return approvals!.list(filter);
    },
    answerApproval: (id, subject, decision) => {
      registered();
      return approvals!.answer(id, subject, decision, 'page', requestFacts(undefined));
    },
    revokeApproval: (id, subject) => {
      registered();
      return approvals!.revoke(id, subject, requestFacts(undefined));
    },
    mintTicket: (request) => {
      registered();
      return tickets!.mint(request, requestFacts(undefined));
    },
    revoke: (filter, by) => registered().revoke(filter, { actor: by?.actor, request: requestFacts(undefined) }),
    setEnabled: (enabled, by) => registered().setEnabled(enabled, { actor: by?.actor, request: requestFacts(undefined) }),
    isEnabled: () => registered().isEnabled(),
    actorChanged: (actorId) => registered().actorChanged(actorId, requestFacts(undefined)),
    accountPage(pageOptions) {
      const life = registered();
      firstPartyClients.add(pageOptions.clientId);
      approvalLinkRoute = `${providerRef!.issuer.replace(/\/$/, '')}${pageOptions.basePath ?? '/account'}/approvals/respond`;
      return createAccountPage({
        issuer: providerRef!.issuer,
        options: pageOptions,
        lifecycle: life,
        approvals: approvals!,
        delegations,
        accounts: options.accounts,
        store,
        requestFacts: (ctx) => requestFacts(ctx as KoaContextWithOIDC),
        clientName: async (id) => (await providerRef!.Client.find(id))?.clientName as string | undefined,
      }) as unknown as Middleware;
    },
    adminConsole(consoleOptions) {
      const life = registered();
      firstPartyClients.add(consoleOptions.clientId);
      return createAdminConsole({
        provider: providerRef!,
        options: consoleOptions,
        accounts: options.accounts,
        lifecycle: life,
        tickets: tickets!,
        auditLog,
        auth: adminAuthenticator(),
        store,
        approvals: approvals!,
        rules: rulesRef!,
        policy: options.policy,
        requestFacts: (ctx) => requestFacts(ctx as KoaContextWithOIDC),
      });
    },
    adminApi(adminOptions) {
      return createAdminApi({
        provider: providerRef!,
        lifecycle: registered(),
        auditLog,
        tickets: tickets!,
        approvals: approvals!,
        requestFacts,
        logger,
        recorder,
        refusals: adminRefusals,
        auth: adminAuthenticator(),
        ...adminOptions,
      });
    },
    receipts(receiptOptions) {
      registered();
      return createReceiptsEndpoint({
        provider: providerRef!,
        impersonations: store.impersonations,
        recorder,
        servedBy: (clientId) => resourceServers.servedBy(clientId),
        requestFacts: (ctx) => requestFacts(ctx),
        logger,
        ...(receiptOptions?.path ? { path: receiptOptions.path } : {}),
      }) as unknown as Middleware;
    },
    revocationFeed(feedOptions) {
      registered();
      return createRevocationFeed({
        provider: providerRef!,
        log: store.revocations,
        jwks: captured!.jwks,
        servedBy: (clientId) => resourceServers.servedBy(clientId),
        logger,
        ...(feedOptions?.path ? { path: feedOptions.path } : {}),
      });
    },
    auditLog,
    metrics,
    close: async () => dispatcher?.stop(),
  };
}
