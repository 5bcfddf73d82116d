import { generateKeyPair, exportJWK, type JWK } from 'jose';
import Provider, { type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { randomBytes } from 'node:crypto';
import type { AuditSink } from '../audit/events.js';
import type { AuditLog } from '../audit/log.js';
import type { Logger } from '../observability/logger.js';
import type { PolicyInput, TokenExchangeOptions } from '../config.js';
import { tokenExchange, type TokenExchange } from '../extension.js';
import type { Store } from '../store/index.js';
import type { FixtureAccounts } from './accounts.js';
import { pageNonce } from '../web/provider-pages.js';
import { errorPage, loggedOutPage, logoutPage } from './interaction-views.js';

/** Everything the reference provider is built from; the bootstrap reads it from config/ and env. */
export interface ReferenceSettings {
  readonly issuer: string;
  readonly accounts: FixtureAccounts;
  readonly clients: readonly ClientMetadata[];
  readonly policy: PolicyInput;
  readonly resourceServers: NonNullable<TokenExchangeOptions['resourceServers']>;
  readonly trustedIssuers?: TokenExchangeOptions['trustedIssuers'];
  readonly hooks?: TokenExchangeOptions['hooks'];
  /** A plain audit sink (tests); otherwise `auditLog` (default: chained, in memory). */
  readonly audit?: AuditSink;
  readonly auditLog?: AuditLog;
  readonly webhooks?: TokenExchangeOptions['webhooks'];
  readonly delegations?: TokenExchangeOptions['delegations'];
  readonly logger?: Logger;
  readonly store?: Store;
  readonly jwks?: { keys: JWK[] };
  readonly cookieKeys?: string[];
}

export interface ReferenceProvider {
  readonly provider: Provider;
  readonly exchange: TokenExchange;
}

const SCOPES = ['openid', 'offline_access', 'profile', 'email', 'orders:read', 'orders:write', 'billing:read', 'impersonation:admin'];

/** A fresh RS256 signing key: the demo provider's keys live as long as the process. */
export async function generateSigningKeys(): Promise<{ keys: JWK[] }> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { keys: [{ ...jwk, use: 'sig', alg: 'RS256', kid: `demo-${Date.now().toString(36)}` }] };
}

function isFirstParty(client: unknown): boolean {
  return (client as { first_party?: boolean } | undefined)?.first_party === true;
}

/**
 * docs/reference-server.md: consent is implied for first-party clients (`first_party: true`), the way an operator
 * skips consent for its own console; other clients get the consent page.
 */
async function loadFirstPartyGrant(ctx: KoaContextWithOIDC) {
  const { client, session, params, provider } = ctx.oidc;
  if (!client || !session?.accountId || !isFirstParty(client)) {
    const grantId = ctx.oidc.result?.consent?.grantId || (client && session?.grantIdFor(client.clientId));
    return grantId ? provider.Grant.find(grantId) : undefined;
  }
  const existing = session.grantIdFor(client.clientId);
  const grant = (existing && (await provider.Grant.find(existing))) || new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
  const requested = String(params?.scope ?? 'openid');
  grant.addOIDCScope(requested);
  // RFC 8707: a token for a resource server (e.g. `demo:login` with RESOURCE) holds the scopes it serves.
  for (const [indicator, server] of Object.entries(ctx.oidc.resourceServers ?? {})) {
    const scopes = requested.split(' ').filter((s) => server.scopes.has(s));
    if (scopes.length) grant.addResourceScope(indicator, scopes.join(' '));
  }
  await grant.save();
  return grant;
}

/** Builds the reference oidc-provider with the token-exchange extension registered. */
export async function createReferenceProvider(settings: ReferenceSettings): Promise<ReferenceProvider> {
  const exchange = tokenExchange({
    accounts: settings.accounts,
    ...(settings.audit ? { audit: settings.audit } : {}),
    ...(settings.auditLog ? { auditLog: settings.auditLog } : {}),
    ...(settings.webhooks ? { webhooks: settings.webhooks } : {}),
    ...(settings.delegations ? { delegations: settings.delegations } : {}),
    ...(settings.logger ? { logger: settings.logger } : {}),
    ...(settings.store ? { store: settings.store } : {}),
    policy: settings.policy,
    resourceServers: settings.resourceServers,
    ...(settings.trustedIssuers ? { trustedIssuers: settings.trustedIssuers } : {}),
    ...(settings.hooks ? { hooks: settings.hooks } : {}),
  });

  const configuration: Configuration = {
    clients: settings.clients.map((c) => ({ ...c })),
    jwks: settings.jwks ?? (await generateSigningKeys()),
    findAccount: settings.accounts.oidcFindAccount,
    cookies: { keys: settings.cookieKeys ?? [randomBytes(32).toString('base64url')] },
    scopes: SCOPES,
    claims: {
      openid: ['sub'],
      profile: ['name', 'tenant'],
      email: ['email', 'email_verified'],
    },
    extraClientMetadata: { properties: ['first_party'] },
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      // OpenID Connect Back-Channel Logout 1.0: relying parties learn at once that an impersonation ended.
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.type = 'html';
          ctx.body = logoutPage(pageNonce(ctx), form, ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = 'html';
          ctx.body = loggedOutPage(pageNonce(ctx), ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId);
        },
      },
    },
    // oidc-provider refuses outgoing requests to loopback and private addresses (its SSRF guard), and
    // the demo app's back-channel logout URI is on localhost. The clients are this server's fixtures
    // (no dynamic registration), so loopback targets are let through; every other request keeps the guard.
    fetch: (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input);
      const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
      return fetch(input, loopback ? ({ ...init, dispatcher: undefined } as RequestInit) : init);
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage(pageNonce(ctx), out);
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    loadExistingGrant: loadFirstPartyGrant,
    // A first-party console keeps its own server-side session: its tokens do not end with the
    // browser's provider session, which a browser impersonation (docs/browser-impersonation.md §3) replaces.
    expiresWithSession: (_ctx, code) => !isFirstParty(code.client) && !code.scopes.has('offline_access'),
    pkce: { required: () => true },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 8 * 3600,
      Grant: 8 * 3600,
      ClientCredentials: 600,
    },
  };

  const provider = new Provider(settings.issuer, exchange.configuration(configuration));
  exchange.register(provider);
  return { provider, exchange };
}
