import type { JWK } from 'jose';
import { errors, type Configuration, type FindAccount, type KoaContextWithOIDC } from 'oidc-provider';
import type { RequestFacts } from '../audit/recorder.js';
import { composeLogoutSource } from '../browser/ending.js';
import { composeBrowserConfiguration } from '../browser/provider-config.js';
import { ConfigurationError } from '../config.js';
import { TOKEN_EXCHANGE_GRANT, TokenType } from '../constants.js';
import { AI_AGENT_PROFILE, CLIENT_PROFILE, isEntityProfile, SERVICE_PROFILE, USER_PROFILE } from '../claims/profiles.js';
import type { GuardedPaths } from '../exchange/endpoint-guard.js';
import { audienceOf } from '../exchange/targets.js';
import { auditableTokenId } from '../exchange/token-ids.js';
import { REVOCATION_NOT_ALLOWED } from '../lifecycle/endpoints.js';
import type { Store } from '../store/index.js';
import type { Foundation } from './foundation.js';
import { requestFacts } from './request-facts.js';

type Features = NonNullable<Configuration['features']>;

/** What `register()` needs of the host's configuration, read when it is composed. */
export interface HostFacts {
  readonly jwks: { keys: JWK[] };
  readonly findAccount: FindAccount;
  readonly clockTolerance: number;
  /** Whether the provider's adapter is the store's (then tokens are deleted in bulk there). */
  readonly sharedAdapter: boolean;
  readonly authorizationPath: string;
  readonly guardedPaths: GuardedPaths;
  readonly scopes: string[];
}

/** An exchanged token's facts, for the revocation policy. */
export interface ExchangedToken {
  readonly clientId: string;
  readonly audience: string[];
  readonly subject: string | undefined;
  readonly tokenId: string;
}

/** What the composed configuration reaches of the extension. */
export type ConfigurationDependencies = Pick<Foundation, 'options' | 'store' | 'tokenClaims' | 'resourceServers' | 'exchangedTokens'> & {
  /** Audits a refused revocation of an exchanged token (once registered). */
  readonly refuseRevocation: (token: ExchangedToken, by: { actor: string; request: RequestFacts }) => Promise<void>;
};

/** Where `interactions.url` sends logins that carry a ticket (docs/browser-impersonation.md §3). */
export const INTERACTION_PATH = '/impersonation/interaction';
const DEFAULT_CLOCK_TOLERANCE = 15;

/**
 * Reads what the extension needs of the host's configuration. Throws a {@link ConfigurationError}
 * without `jwks` (it verifies JWTs this provider signed) or `findAccount` (ID tokens carry the
 * subject's claims).
 */
export function readHostFacts(host: Configuration, store: Store): HostFacts {
  if (!host.jwks?.keys?.length) {
    throw new ConfigurationError('token exchange needs configuration.jwks: it verifies JWTs this provider signed');
  }
  if (typeof host.findAccount !== 'function') {
    throw new ConfigurationError("token exchange needs configuration.findAccount: ID tokens carry the subject's claims");
  }
  return {
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
}

/**
 * RFC 7662 and RFC 7009 are how resource servers see an impersonation end and how a token of it is
 * ended (docs/introspection-revocation.md): on unless the host turned one off on purpose, which is an
 * error here rather than an endpoint quietly opened or an impersonation that cannot be revoked.
 */
function assertEndpointsEnabled(features: Configuration['features']): void {
  for (const [feature, settings] of [['introspection', features?.introspection ?? {}], ['revocation', features?.revocation ?? {}]] as const) {
    if (settings.enabled === false) {
      throw new ConfigurationError(`token exchange needs features.${feature}: exchanged tokens are ${feature === 'introspection' ? 'introspected' : 'revoked'} there (set enabled: true, or leave it out)`);
    }
  }
}

/** The facts the introspection and revocation policies need, for a token of this grant only. */
function exchanged(token: { gty?: unknown; clientId?: unknown; aud?: unknown; accountId?: unknown; jti?: unknown; format?: unknown }): ExchangedToken | undefined {
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
 * draft-mora-oauth-entity-profiles §6: a client declares its kind (`client_profile`), which names it
 * in `act.sub_profile` when it acts for someone (docs/beyond-impersonation.md).
 */
function withClientProfile(metadata: Configuration['extraClientMetadata'] = {}): Configuration['extraClientMetadata'] {
  return {
    ...metadata,
    properties: [...new Set([...(metadata.properties ?? []), CLIENT_PROFILE])],
    validator(ctx, key, value, clientMetadata) {
      if (key === CLIENT_PROFILE && value !== undefined && !isEntityProfile(value)) {
        throw new errors.InvalidClientMetadata(`${CLIENT_PROFILE} must be space-separated entity profiles (e.g. ai_agent)`);
      }
      return metadata.validator?.(ctx, key, value, clientMetadata);
    },
  };
}

/**
 * draft-mcguinness-oauth-actor-profile §10.1 and draft-mora-oauth-entity-profiles §5: which kinds
 * of actor this provider names, and what its token exchange accepts.
 */
function withEntityProfiles(discovery: Configuration['discovery'], actorProfiles: Readonly<Record<string, unknown>>): Configuration['discovery'] {
  return {
    ...discovery,
    entity_profiles_supported: {
      actor: [...new Set([USER_PROFILE, SERVICE_PROFILE, AI_AGENT_PROFILE, ...Object.keys(actorProfiles)])],
      subject: [USER_PROFILE],
    },
    actor_profile_token_exchange: {
      subject_token_types_supported: [TokenType.accessToken, TokenType.idToken, TokenType.jwt],
      actor_token_types_supported: [TokenType.accessToken, TokenType.idToken, TokenType.jwt],
      requested_token_types_supported: [TokenType.accessToken, TokenType.jwt, TokenType.idToken],
    },
  };
}

/** RFC 8707: the configured resource servers first, then the host's own lookup. */
function resourceIndicators(host: Features['resourceIndicators'], deps: ConfigurationDependencies): Features['resourceIndicators'] {
  const hostResourceInfo = host?.getResourceServerInfo;
  return {
    ...host,
    enabled: true,
    async getResourceServerInfo(ctx, indicator, client) {
      const known = deps.resourceServers.byIdentifier(indicator);
      if (known) {
        const { scope, accessTokenFormat, audience } = known.definition;
        return { scope, accessTokenFormat, ...(audience ? { audience } : {}) };
      }
      if (hostResourceInfo) return hostResourceInfo(ctx, indicator, client);
      throw new errors.InvalidTarget();
    },
  };
}

/**
 * RFC 7662 §4: an exchanged token, and any token of an impersonation (a browser session's come
 * from the authorization-code grant), is introspected only by the resource servers it is for.
 */
function introspection(host: NonNullable<Features['introspection']>, deps: ConfigurationDependencies): Features['introspection'] {
  return {
    ...host,
    enabled: true,
    async allowedPolicy(ctx, client, token) {
      const model = token as { gty?: unknown; extra?: unknown; aud?: unknown };
      if (exchanged(model) || impersonating(model)) return deps.exchangedTokens.mayIntrospect(client.clientId, audienceOf(model.aud));
      if (host.allowedPolicy) return host.allowedPolicy(ctx, client, token);
      return client.clientAuthMethod !== 'none' || token.clientId === client.clientId;
    },
  };
}

/**
 * RFC 7009 §2.1: its client, or a resource server it is for, may revoke an exchanged token; any
 * other client is refused (and audited), and the token left alone.
 */
function revocation(host: NonNullable<Features['revocation']>, deps: ConfigurationDependencies): Features['revocation'] {
  return {
    ...host,
    enabled: true,
    async allowedPolicy(ctx, client, token) {
      const facts = exchanged(token);
      if (facts) {
        if (deps.exchangedTokens.mayRevoke(client.clientId, facts)) return true;
        await deps.refuseRevocation(facts, { actor: client.clientId, request: requestFacts(ctx as KoaContextWithOIDC) });
        throw new errors.InvalidRequest(REVOCATION_NOT_ALLOWED);
      }
      if (host.allowedPolicy) return host.allowedPolicy(ctx, client, token);
      if (token.clientId === client.clientId) return true;
      if (client.clientAuthMethod === 'none') return false;
      throw new errors.InvalidRequest(REVOCATION_NOT_ALLOWED);
    },
  };
}

/**
 * The host's oidc-provider configuration with what the extension needs at construction: the
 * browser-impersonation settings (docs/browser-impersonation.md), entity profiles, the resource
 * servers, introspection and revocation with their policies for exchanged tokens, and — unless the
 * host has its own — the store's adapter.
 */
export function composeConfiguration(host: Configuration, deps: ConfigurationDependencies): Configuration {
  assertEndpointsEnabled(host.features);
  const { store, options, tokenClaims } = deps;
  const browser = composeBrowserConfiguration(host, {
    impersonations: store.impersonations,
    maxLifetimeSeconds: options.policy.maxLifetimeSeconds,
    interactionPath: INTERACTION_PATH,
    exchangeClaims: (token) => tokenClaims.get(token),
    recordJwt: (jti, grantId, ttl, audience) => store.impersonations.addJwt(jti, grantId, ttl, audience),
  });
  return {
    ...browser,
    extraClientMetadata: withClientProfile(browser.extraClientMetadata),
    discovery: withEntityProfiles(host.discovery, options.policy.actorProfiles),
    adapter: host.adapter ?? store.adapter,
    features: {
      // RP-initiated logout of an impersonated session ends it without a question (docs/browser-impersonation.md).
      ...composeLogoutSource(host.features),
      resourceIndicators: resourceIndicators(host.features?.resourceIndicators, deps),
      introspection: introspection(host.features?.introspection ?? {}, deps),
      revocation: revocation(host.features?.revocation ?? {}, deps),
    } as Configuration['features'],
  };
}
