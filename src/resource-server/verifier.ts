import { createRemoteJWKSet, errors as joseErrors, type JWTVerifyGetKey } from 'jose';
import { resolveResourceServerOptions, type ReplayCache, type ResolvedResourceServerOptions, type ResourceServerOptions } from './options.js';
import { accessFromClaims, readOnlyRefusal, type ClaimsResult, type Guard, type GuardRequest, type VerifiedAccess } from './access.js';
import { readCredentials } from './credentials.js';
import { DiscoveryFailed, discovery } from './discovery.js';
import { MemoryReplayCache, rememberProof, verifyProof, type VerifiedProof } from './dpop.js';
import { AccessDenied, type ChallengeSettings, type DenialCode, type Scheme } from './errors.js';
import { IntrospectionBudgetExceeded, IntrospectionClient, IntrospectionUnavailable } from './introspection.js';
import { looksLikeJwt, verifyAccessTokenJwt } from './jwt.js';
import { RevocationFeedClient, type RevocationFeedHealth } from './revocation-feed.js';

/** The parts of an HTTP request the verification reads: nothing else (never the body). */
export interface RequestParts {
  readonly method: string;
  /** The absolute request URL, query included. */
  readonly url: string;
  readonly authorization: string | null;
  readonly dpop: string | null;
  /**
   * DPoP proofs already accepted for this very request by another middleware of the app (a route
   * verifying again under its own settings): not a replay. Absent for `verifyRequest`.
   */
  readonly acceptedProofs?: Set<string>;
  /** The caller's address, when the framework knows it (Koa `ctx.ip`, Express `req.ip`): its share of the introspection budget. */
  readonly address?: string | undefined;
}

/** The verification core every entry point (fetch `Request`, Koa, Express) goes through. */
export interface Verifier {
  readonly options: ResolvedResourceServerOptions;
  verify(parts: RequestParts, guards: readonly Guard[]): Promise<VerifiedAccess>;
  /** Runs guards on a request verified before (a route guard after an app-wide middleware). */
  guard(access: VerifiedAccess, guards: readonly Guard[], parts: RequestParts): VerifiedAccess;
  /** The revocation feed's state, when one is configured. */
  feedHealth(): RevocationFeedHealth | undefined;
  /** Polls the revocation feed now (resolves once it answered; rejects if it failed). */
  syncRevocations(): Promise<void>;
  /** Stops the revocation feed's polling. */
  close(): void;
}

/** The key set or the introspection endpoint could not be reached: a 503, not the token's fault. */
class IssuerUnavailable extends Error {
  constructor(cause: unknown) {
    super('the authorization server could not be reached', { cause });
    this.name = 'IssuerUnavailable';
  }
}

/** Builds the verification core from validated options. */
export function createVerifier(input: ResourceServerOptions): Verifier {
  const options = resolveResourceServerOptions(input);
  const now = options.now ?? Date.now;
  const replayCache: ReplayCache = options.dpop.replayCache ?? new MemoryReplayCache({ maxEntries: options.dpop.replayCacheMaxEntries, now });
  const settings: ChallengeSettings = { realm: options.realm, dpopAlgorithms: options.dpop.algorithms, dpopRequired: options.dpop.required };
  const metadata = discovery(options.issuer, options.jwks.timeoutMs);

  let keySet: JWTVerifyGetKey | undefined;
  async function keys(): Promise<JWTVerifyGetKey> {
    if (keySet) return keySet;
    const jwksUri = options.jwks.uri ?? (await metadata()).jwksUri;
    if (!jwksUri) throw new DiscoveryFailed('the issuer publishes no jwks_uri');
    // jose caches the set, refetches on an unknown kid at most once per cooldown, and times out.
    keySet ??= createRemoteJWKSet(new URL(jwksUri), {
      cacheMaxAge: options.jwks.cacheMaxAgeSeconds * 1000,
      cooldownDuration: options.jwks.cooldownSeconds * 1000,
      timeoutDuration: options.jwks.timeoutMs,
    });
    return keySet;
  }

  const introspection = options.introspection
    ? new IntrospectionClient(
        { ...options.introspection, issuer: options.issuer, audience: options.audience, clockToleranceSeconds: options.clockToleranceSeconds, now },
        async () => {
          const introspectionEndpoint = options.introspection?.endpoint ?? (await metadata()).introspectionEndpoint;
          if (!introspectionEndpoint) throw new DiscoveryFailed('the issuer publishes no introspection_endpoint');
          return introspectionEndpoint;
        },
      )
    : undefined;

  // The revocation feed (docs/resource-server.md, "The revocation feed"): local JWT verification
  // learns of revocations within seconds instead of at `exp`.
  const feedOptions = options.revocationFeed;
  const feed =
    feedOptions && options.mode !== 'introspect'
      ? new RevocationFeedClient({
          endpoint: feedOptions.endpoint ?? `${options.issuer.replace(/\/$/, '')}/revocations`,
          clientId: feedOptions.clientId ?? options.introspection!.clientId,
          clientSecret: feedOptions.clientSecret ?? options.introspection!.clientSecret,
          issuer: options.issuer,
          algorithms: options.algorithms,
          keys,
          pollIntervalMs: feedOptions.pollIntervalMs,
          maxStalenessSeconds: feedOptions.maxStalenessSeconds,
          timeoutMs: feedOptions.timeoutMs,
          now,
          logger: options.logger,
        })
      : undefined;
  feed?.start();

  const deny = (code: DenialCode, scheme: Scheme | undefined, detail?: string, scope?: string) => new AccessDenied(code, { settings, scheme, detail, scope });

  /** RFC 9068 locally, or RFC 7662 when the mode says so (opaque tokens, or every token). */
  async function verifyToken(token: string, scheme: Scheme, address: string | undefined): Promise<ClaimsResult> {
    const jwt = looksLikeJwt(token);
    const base = { format: jwt ? ('jwt' as const) : ('opaque' as const), scheme, issuer: options.issuer };
    if (options.mode === 'introspect' || (!jwt && options.mode === 'auto')) {
      const answer = await introspection!.introspect(token, address);
      return answer.ok ? accessFromClaims(answer.claims, { ...base, verifiedBy: 'introspection' }) : answer;
    }
    if (!jwt) return { ok: false, code: 'token_opaque', detail: 'opaque token and no introspection' };
    let key: JWTVerifyGetKey;
    try {
      key = await keys();
    } catch (err) {
      throw new IssuerUnavailable(err);
    }
    const verified = await verifyAccessTokenJwt(token, key, {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: options.algorithms,
      clockTolerance: options.clockToleranceSeconds,
      now,
    }).catch((err: unknown) => {
      throw new IssuerUnavailable(err);
    });
    if (!verified.ok) return verified;
    if (feed) {
      if (!feed.isFresh()) {
        await feed.firstPoll();
        if (!feed.isFresh()) {
          // Stale past the bound: introspect instead, or refuse (the default: fail closed).
          if (feedOptions!.whenStale === 'refuse') return { ok: false, code: 'revocations_unavailable', detail: 'revocation feed stale' };
          const answer = await introspection!.introspect(token, address);
          return answer.ok ? accessFromClaims(answer.claims, { ...base, verifiedBy: 'introspection' }) : answer;
        }
      }
      if (feed.isRevoked(verified.claims.jti!)) return { ok: false, code: 'token_revoked', detail: 'jti in the revocation feed' };
    }
    return accessFromClaims(verified.claims, { ...base, verifiedBy: 'jwt' });
  }

  /**
   * RFC 9449 §4.3: the URI the client addressed, on the configured `publicOrigin` — never on an
   * origin built from the request's `Host` header, which the client chooses.
   */
  function addressed(url: URL, publicOrigin: string): string {
    return new URL(`${url.pathname}${url.search}`, publicOrigin).href;
  }

  /** The built-in read-only rule first, then the call's guards in order; the first refusal wins. */
  function runGuards(access: VerifiedAccess, guards: readonly Guard[], parts: RequestParts): VerifiedAccess {
    const request: GuardRequest = { method: parts.method, url: parts.url };
    for (const check of [(a: VerifiedAccess, r: GuardRequest) => readOnlyRefusal(a, r, guards), ...guards]) {
      const refusal = check(access, request);
      if (refusal) throw deny(refusal.code, access.token.scheme, refusal.detail, refusal.scope);
    }
    return access;
  }

  async function authenticate(parts: RequestParts): Promise<VerifiedAccess> {
    let url: URL;
    try {
      url = new URL(parts.url);
    } catch {
      throw deny('request_malformed', undefined, 'unparseable URL');
    }
    const credentials = readCredentials(url, parts.authorization, parts.dpop);
    if (!credentials.ok) throw deny(credentials.code, credentials.scheme, credentials.detail);
    const { scheme, token } = credentials;
    if (scheme === 'Bearer' && options.dpop.required) throw deny('dpop_required', scheme, 'Bearer scheme');

    let proof: VerifiedProof | undefined;
    if (scheme === 'DPoP') {
      // Without the origin clients address, `htu` could only be compared with the Host header.
      if (!options.publicOrigin) throw deny('dpop_unavailable', scheme, 'publicOrigin is not configured');
      const checked = await verifyProof(credentials.proof, { method: parts.method, url: addressed(url, options.publicOrigin) }, token, {
        algorithms: options.dpop.algorithms,
        iatWindowSeconds: options.dpop.iatWindowSeconds,
        clockToleranceSeconds: options.clockToleranceSeconds,
        now,
      });
      if (!checked.ok) throw deny(checked.code, scheme, checked.detail);
      proof = checked.proof;
    }

    let result: ClaimsResult;
    try {
      result = await verifyToken(token, scheme, parts.address);
    } catch (err) {
      if (err instanceof IntrospectionBudgetExceeded) throw deny('introspection_budget', scheme, err.message);
      if (err instanceof IssuerUnavailable || err instanceof DiscoveryFailed || err instanceof IntrospectionUnavailable || err instanceof joseErrors.JWKSTimeout) {
        throw deny('issuer_unavailable', scheme, `${err.name}${err.cause instanceof Error ? `: ${err.cause.name}` : ''}`);
      }
      throw err;
    }
    if (!result.ok) throw deny(result.code, scheme, result.detail);
    const { access } = result;

    // RFC 9449 §7.1, §7.2: a bound token only with a proof of its key; an unbound one only as Bearer.
    const bound = access.token.keyThumbprint;
    if (scheme === 'Bearer' && bound !== undefined) throw deny('token_bound_presented_as_bearer', scheme, 'cnf.jkt present');
    if (proof) {
      if (bound === undefined) throw deny('token_not_bound', scheme, 'no cnf.jkt');
      if (bound !== proof.thumbprint) throw deny('dpop_key_mismatch', scheme, 'proof key is not the bound key');
      const sameRequest = parts.acceptedProofs?.has(credentials.proof!) === true;
      let fresh = sameRequest;
      if (!sameRequest) {
        try {
          fresh = await rememberProof(replayCache, proof);
        } catch (err) {
          // A shared cache that cannot answer: refuse (503), never take the proof for a fresh one.
          throw deny('replay_cache_unavailable', scheme, `replay cache: ${err instanceof Error ? err.name : 'failed'}`);
        }
      }
      if (!fresh) throw deny('dpop_proof_replayed', scheme, 'jti seen before (or the replay cache is full)');
      parts.acceptedProofs?.add(credentials.proof!);
    }
    return access;
  }

  function logDenial(denied: AccessDenied, parts: RequestParts): void {
    if (!options.logger) return;
    let path = '';
    try {
      path = new URL(parts.url).pathname;
    } catch {
      path = '(unparseable)';
    }
    const fields = { code: denied.code, status: denied.status, error: denied.error, detail: denied.detail, method: parts.method, path };
    if (denied.status === 503) options.logger.warn(fields, 'resource server: issuer unavailable');
    else options.logger.info(fields, 'resource server: access denied');
  }

  function logged<T>(parts: RequestParts, run: () => T): T {
    try {
      return run();
    } catch (err) {
      if (err instanceof AccessDenied) logDenial(err, parts);
      throw err;
    }
  }

  return {
    options,
    async verify(parts, guards) {
      try {
        return runGuards(await authenticate(parts), guards, parts);
      } catch (err) {
        if (err instanceof AccessDenied) logDenial(err, parts);
        throw err;
      }
    },
    guard: (access, guards, parts) => logged(parts, () => runGuards(access, guards, parts)),
    feedHealth: () => feed?.health(),
    syncRevocations: () => feed?.sync() ?? Promise.resolve(),
    close: () => feed?.stop(),
  };
}
