import type Provider from 'oidc-provider';
import { createImpersonationInteraction } from '../browser/interaction.js';
import { GRANT_PARAMETERS, IMPERSONATION_AMR, REPEATABLE_PARAMETERS, TOKEN_EXCHANGE_GRANT } from '../constants.js';
import { createAgentApi } from '../delegations/agent-api.js';
import { createEndpointGuard } from '../exchange/endpoint-guard.js';
import { createTokenExchangeHandler } from '../exchange/grant.js';
import { providerTokenLookup } from '../exchange/provider-lookup.js';
import { createLimiter } from '../exchange/rate-limit.js';
import { createLifecycleEndpoints } from '../lifecycle/endpoints.js';
import { createIdTokenRecorder } from '../lifecycle/id-token-records.js';
import { createPageSecurity } from '../web/provider-pages.js';
import { INTERACTION_PATH } from './configuration.js';
import type { Foundation } from './foundation.js';
import type { Registered } from './registered.js';
import { requestFacts } from './request-facts.js';

/** RFC 8693 §2: the token-exchange grant at the token endpoint. */
function registerGrant(provider: Provider, base: Foundation, registered: Registered): void {
  const { options, store, audit } = base;
  const { lifecycle, host } = registered;
  const handler = createTokenExchangeHandler({
    options,
    recorder: audit.recorder,
    registry: {
      isEnabled: () => lifecycle.isEnabled(),
      add: (record, ttl) => store.impersonations.add(record, ttl),
      addJwt: (jti, grantId, ttl, audience) => store.impersonations.addJwt(jti, grantId, ttl, audience),
      get: (grantId) => store.impersonations.get(grantId),
    },
    verify: {
      keys: registered.keys,
      lookup: providerTokenLookup(provider, store.impersonations),
      ownIssuer: provider.issuer,
      clockTolerance: host.clockTolerance,
      needsAuthTime: options.policy.maxActorAuthAgeSeconds !== undefined,
    },
    rules: registered.rules,
    resourceServers: base.resourceServers,
    issue: {
      newBatch: () => store.batch(),
      attachClaims: (token, claims) => base.tokenClaims.set(token, claims),
      findAccount: host.findAccount,
    },
    requestFacts,
    markAudited: (ctx) => base.audited.add(ctx),
    observeDuration: base.metrics.observeDuration,
    logger: base.logger,
    notifier: audit.notifier,
    confirmStarted: registered.approvals.confirmStarted,
    delegations: base.delegations,
  });
  provider.registerGrantType(TOKEN_EXCHANGE_GRANT, handler, GRANT_PARAMETERS, REPEATABLE_PARAMETERS);
}

/** Audits and rate-limits what the grant does not see at the token, introspection and revocation endpoints. */
function endpointGuard(base: Foundation, registered: Registered) {
  const { options, limiterStore } = base;
  return createEndpointGuard({
    recorder: base.audit.recorder,
    wasAudited: (ctx) => base.audited.has(ctx),
    requestFacts,
    paths: registered.host.guardedPaths,
    guessing: base.guessing,
    perClient: createLimiter(options.policy.clientRateLimit, limiterStore, { failOpen: true }),
  });
}

/** docs/browser-impersonation.md §3: the ticket's redemption, at the interaction a ticket login is sent to. */
function ticketInteraction(provider: Provider, base: Foundation, registered: Registered) {
  return createImpersonationInteraction({
    provider,
    tickets: registered.tickets,
    path: INTERACTION_PATH,
    requestFacts,
    logger: base.logger,
    actorOf: async (grantId) => {
      const record = await base.store.impersonations.get(grantId);
      return record?.actorAccount ?? record?.actors.at(-1);
    },
  });
}

/** docs/browser-impersonation.md §4: the session a browser impersonation lives in ends with it. */
function attachSessions(provider: Provider, base: Foundation): void {
  provider.on('authorization_code.saved', (code: { amr?: string[]; grantId?: string; sessionUid?: string }) => {
    if (code.amr?.includes(IMPERSONATION_AMR) && code.grantId && code.sessionUid) {
      base.store.impersonations.attachSession(code.grantId, code.sessionUid, Math.floor(Date.now() / 1000)).catch(() => undefined);
    }
  });
}

/**
 * Mounts the extension on the provider, outermost middleware first: page security, the grant and
 * the endpoint guard, the agent API (when agents are configured), the ticket interaction, the ID
 * token records and the introspection and revocation lifecycle.
 */
export function mountOnProvider(provider: Provider, base: Foundation, registered: Registered): void {
  const { store, logger } = base;
  // Outermost of the extension's middleware: the provider's pages refuse framing (docs/security.md).
  provider.use(createPageSecurity(provider));
  registerGrant(provider, base, registered);
  provider.use(endpointGuard(base, registered));
  if (base.options.delegations.agents.length) {
    provider.use(createAgentApi({ provider, delegations: base.delegations, requestFacts }) as unknown as Parameters<Provider['use']>[0]);
  }
  provider.use(ticketInteraction(provider, base, registered));
  attachSessions(provider, base);
  provider.use(createIdTokenRecorder({ record: (id, grantId, ttl) => store.impersonations.addJwt(id, grantId, ttl), logger }));
  provider.use(
    createLifecycleEndpoints({
      provider,
      lifecycle: registered.lifecycle,
      impersonations: store.impersonations,
      keys: registered.keys,
      clockTolerance: registered.host.clockTolerance,
      policy: base.exchangedTokens,
      requestFacts,
      logger,
    }),
  );
}
