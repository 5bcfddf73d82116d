import type Provider from 'oidc-provider';
import { createAdminAuthenticator } from '../admin/auth.js';
import { ApprovalLinks } from '../approvals/links.js';
import { createApprovalService } from '../approvals/service.js';
import { createAllowedScopes } from '../browser/scopes.js';
import { createTicketService } from '../browser/tickets.js';
import { createIssuerKeys } from '../exchange/keys.js';
import { createActorRateLimiter } from '../exchange/rate-limit.js';
import { createImpersonationRules } from '../exchange/rules.js';
import { ImpersonationLifecycle } from '../lifecycle/service.js';
import type { HostFacts } from './configuration.js';
import type { Foundation } from './foundation.js';
import { mountOnProvider } from './mount.js';
import type { Registered } from './registered.js';

/** The services of a registered extension, in the order they depend on each other. */
function buildServices(provider: Provider, base: Foundation, host: HostFacts): Registered {
  const { options, store, audit } = base;
  const lifecycle = new ImpersonationLifecycle(store, provider, options.accounts, options.policy, audit.recorder, host.sharedAdapter, base.logger);
  const rules = createImpersonationRules({
    options,
    rateLimiter: createActorRateLimiter(options.policy, base.limiterStore),
    approvals: store.approvals,
  });
  const approvals = createApprovalService({
    options,
    rules,
    store: store.approvals,
    links: new ApprovalLinks(store.backend, store.keys),
    recorder: audit.recorder,
    lifecycle,
    notifier: audit.notifier,
    logger: base.logger,
    isEnabled: () => lifecycle.isEnabled(),
    linkRoute: () => base.ownPages.approvalLinkRoute(),
  });
  const tickets = createTicketService({
    options,
    rules,
    provider,
    tickets: store.tickets,
    impersonations: store.impersonations,
    recorder: audit.recorder,
    isEnabled: () => lifecycle.isEnabled(),
    mayStillImpersonate: (actorId) => lifecycle.accountMayImpersonate(actorId),
    allowedScopes: createAllowedScopes(options, base.resourceServers, host.scopes),
    authorizationEndpoint: `${provider.issuer.replace(/\/$/, '')}${host.authorizationPath}`,
    notifier: audit.notifier,
    isFirstParty: (clientId) => base.ownPages.isFirstParty(clientId),
    approvals: {
      isRevoked: async (id) => (await store.approvals.get(id))?.status === 'revoked',
      confirmStarted: approvals.confirmStarted,
    },
  });
  return {
    provider,
    host,
    lifecycle,
    keys: createIssuerKeys(provider.issuer, host.jwks, options.trustedIssuers),
    rules,
    approvals,
    tickets,
    adminAuth: createAdminAuthenticator(provider, lifecycle, { clockTolerance: host.clockTolerance }),
  };
}

/**
 * Builds every provider-dependent part, mounts the grant and the endpoint middleware on the
 * provider, and starts what runs in the background (the switch's marker, webhook delivery).
 */
export function register(provider: Provider, base: Foundation, host: HostFacts): Registered {
  const registered = buildServices(provider, base, host);
  mountOnProvider(provider, base, registered);
  // Learns the store's marker at start-up, so that a store emptied later is noticed (docs/introspection-revocation.md switch).
  registered.lifecycle.isEnabled().catch(() => undefined);
  base.audit.dispatcher?.start();
  return registered;
}
