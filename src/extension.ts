import { randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import { errors, type Configuration, type FindAccount, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { MemoryAuditSink } from './audit/memory-sink.js';
import { AuditRecorder, type RequestFacts } from './audit/recorder.js';
import { ConfigurationError, resolveOptions, type ResolvedOptions, type TokenExchangeOptions } from './config.js';
import { GRANT_PARAMETERS, REPEATABLE_PARAMETERS, TOKEN_EXCHANGE_GRANT } from './constants.js';
import { createTokenExchangeHandler } from './exchange/grant.js';
import { createTokenEndpointGuard } from './exchange/guard.js';
import { createIssuerKeys } from './exchange/keys.js';
import { providerTokenLookup } from './exchange/provider-lookup.js';
import { createActorRateLimiter } from './exchange/rate-limit.js';
import { ResourceServerRegistry } from './exchange/targets.js';

/** The extension, between validating its options and registering on a provider. */
export interface TokenExchange {
  /** Validated options, every default filled in. */
  readonly options: ResolvedOptions;
  /**
   * Returns the host's oidc-provider configuration with what the extension needs at construction:
   * `extraTokenClaims` (for `act`) composed with the host's, and the resource servers. Pass the
   * result to `new Provider(issuer, …)`; the host's object is not modified.
   */
  configuration(host: Configuration): Configuration;
  /** Registers the grant and its token-endpoint guard on the provider built from `configuration()`. */
  register(provider: Provider): void;
}

const REQUEST_ID_HEADER = 'x-request-id';
const DEFAULT_CLOCK_TOLERANCE = 15;

function requestFacts(ctx: KoaContextWithOIDC): RequestFacts {
  const given = ctx.get(REQUEST_ID_HEADER);
  return {
    ip: ctx.ip || undefined,
    userAgent: ctx.get('user-agent') || undefined,
    requestId: /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID(),
  };
}

/**
 * Creates the RFC 8693 token-exchange extension for an oidc-provider 9 instance. Options are
 * validated at once; a bad field throws a {@link ConfigurationError} that names it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693
 */
export function tokenExchange(input: TokenExchangeOptions): TokenExchange {
  const options = resolveOptions(input);
  const resourceServers = new ResourceServerRegistry(options.resourceServers);
  const tokenClaims = new WeakMap<object, Record<string, unknown>>();
  const audited = new WeakSet<object>();
  let captured: { jwks: { keys: JWK[] }; findAccount: FindAccount; clockTolerance: number } | undefined;
  let registered = false;

  function configuration(host: Configuration): Configuration {
    if (!host.jwks?.keys?.length) {
      throw new ConfigurationError('token exchange needs configuration.jwks: it verifies JWTs this provider signed');
    }
    if (typeof host.findAccount !== 'function') {
      throw new ConfigurationError('token exchange needs configuration.findAccount: ID tokens carry the subject\'s claims');
    }
    captured = {
      jwks: host.jwks as { keys: JWK[] },
      findAccount: host.findAccount,
      clockTolerance: host.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE,
    };
    const hostExtraClaims = host.extraTokenClaims;
    const hostIndicators = host.features?.resourceIndicators;
    const hostResourceInfo = hostIndicators?.getResourceServerInfo;

    return {
      ...host,
      async extraTokenClaims(ctx, token) {
        const own = tokenClaims.get(token);
        const theirs = hostExtraClaims ? await hostExtraClaims(ctx, token) : undefined;
        return own ? { ...theirs, ...own } : theirs;
      },
      features: {
        ...host.features,
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
      },
    };
  }

  function register(provider: Provider): void {
    if (!captured) {
      throw new ConfigurationError('build the provider from exchange.configuration(yourConfiguration) before exchange.register(provider)');
    }
    if (registered) throw new ConfigurationError('token exchange is already registered');
    registered = true;

    const recorder = new AuditRecorder(options.audit ?? new MemoryAuditSink());
    const handler = createTokenExchangeHandler({
      options,
      recorder,
      verify: {
        keys: createIssuerKeys(provider.issuer, captured.jwks, options.trustedIssuers),
        lookup: providerTokenLookup(provider),
        ownIssuer: provider.issuer,
        clockTolerance: captured.clockTolerance,
      },
      rateLimiter: createActorRateLimiter(options.policy),
      resourceServers,
      issue: {
        attachClaims: (token, claims) => tokenClaims.set(token, claims),
        findAccount: captured.findAccount,
      },
      requestFacts,
      markAudited: (ctx) => audited.add(ctx),
    });
    provider.registerGrantType(TOKEN_EXCHANGE_GRANT, handler, GRANT_PARAMETERS, REPEATABLE_PARAMETERS);
    provider.use(createTokenEndpointGuard({ recorder, wasAudited: (ctx) => audited.has(ctx), requestFacts }));
  }

  return { options, configuration, register };
}
