import { createRemoteJWKSet, errors as joseErrors, type JWTVerifyGetKey } from 'jose';
import { resolveResourceServerOptions, type ReplayCache, type ResolvedResourceServerOptions, type ResourceServerOptions } from './options.js';
import { accessFromClaims, readOnlyRefusal, type ClaimsResult, type Guard, type GuardRequest, type VerifiedAccess } from './access.js';
import { readCredentials, type Credentials } from './credentials.js';
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

/** Presented credentials that could be read. */
type Presented = Extract<Credentials, { ok: true }>;

/** The introspection client, when the options configure one (RFC 7662). */
function introspectionClient(options: ResolvedResourceServerOptions, metadata: ReturnType<typeof discovery>, now: () => number): IntrospectionClient | undefined {
  if (!options.introspection) return undefined;
  const configured = options.introspection;
  return new IntrospectionClient({ ...configured, issuer: options.issuer, audience: options.audience, clockToleranceSeconds: options.clockToleranceSeconds, now }, async () => {
    const introspectionEndpoint = configured.endpoint ?? (await metadata()).introspectionEndpoint;
    if (!introspectionEndpoint) throw new DiscoveryFailed('the issuer publishes no introspection_endpoint');
    return introspectionEndpoint;
  });
}

/**
 * The revocation feed (docs/resource-server.md, "The revocation feed"): local JWT verification
 * learns of revocations within seconds instead of at `exp`. None in `introspect` mode.
 */
function revocationFeed(options: ResolvedResourceServerOptions, keys: () => Promise<JWTVerifyGetKey>, now: () => number): RevocationFeedClient | undefined {
  const feedOptions = options.revocationFeed;
  if (!feedOptions || options.mode === 'introspect') return undefined;
  return new RevocationFeedClient({
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
  });
}

/**
 * RFC 9449 §4.3: the URI the client addressed, on the configured `publicOrigin` — never on an
 * origin built from the request's `Host` header, which the client chooses.
 */
function addressed(url: URL, publicOrigin: string): string {
  return new URL(`${url.pathname}${url.search}`, publicOrigin).href;
}

/** The path of a request for a log line (never its query, which may carry a token). */
function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return '(unparseable)';
  }
}

/** The verification core: credentials, DPoP proof, token (JWT or introspection), binding, guards. */
class TokenVerifier implements Verifier {
  readonly #now: () => number;
  readonly #replayCache: ReplayCache;
  readonly #settings: ChallengeSettings;
  readonly #metadata: ReturnType<typeof discovery>;
  readonly #introspection: IntrospectionClient | undefined;
  readonly #feed: RevocationFeedClient | undefined;
  #keySet: JWTVerifyGetKey | undefined;

  constructor(readonly options: ResolvedResourceServerOptions) {
    this.#now = options.now ?? Date.now;
    this.#replayCache = options.dpop.replayCache ?? new MemoryReplayCache({ maxEntries: options.dpop.replayCacheMaxEntries, now: this.#now });
    this.#settings = { realm: options.realm, dpopAlgorithms: options.dpop.algorithms, dpopRequired: options.dpop.required };
    this.#metadata = discovery(options.issuer, options.jwks.timeoutMs);
    this.#introspection = introspectionClient(options, this.#metadata, this.#now);
    this.#feed = revocationFeed(options, () => this.#keys(), this.#now);
    this.#feed?.start();
  }

  async verify(parts: RequestParts, guards: readonly Guard[]): Promise<VerifiedAccess> {
    try {
      return this.#runGuards(await this.#authenticate(parts), guards, parts);
    } catch (err) {
      if (err instanceof AccessDenied) this.#logDenial(err, parts);
      throw err;
    }
  }

  guard(access: VerifiedAccess, guards: readonly Guard[], parts: RequestParts): VerifiedAccess {
    try {
      return this.#runGuards(access, guards, parts);
    } catch (err) {
      if (err instanceof AccessDenied) this.#logDenial(err, parts);
      throw err;
    }
  }

  feedHealth(): RevocationFeedHealth | undefined {
    return this.#feed?.health();
  }

  syncRevocations(): Promise<void> {
    return this.#feed?.sync() ?? Promise.resolve();
  }

  close(): void {
    this.#feed?.stop();
  }

  #deny(code: DenialCode, scheme: Scheme | undefined, detail?: string, scope?: string): AccessDenied {
    return new AccessDenied(code, { settings: this.#settings, scheme, detail, scope });
  }

  /** The issuer's key set: discovered once, then cached by jose, refetched on an unknown kid at most once per cooldown. */
  async #keys(): Promise<JWTVerifyGetKey> {
    if (this.#keySet) return this.#keySet;
    const { jwks } = this.options;
    const jwksUri = jwks.uri ?? (await this.#metadata()).jwksUri;
    if (!jwksUri) throw new DiscoveryFailed('the issuer publishes no jwks_uri');
    this.#keySet ??= createRemoteJWKSet(new URL(jwksUri), {
      cacheMaxAge: jwks.cacheMaxAgeSeconds * 1000,
      cooldownDuration: jwks.cooldownSeconds * 1000,
      timeoutDuration: jwks.timeoutMs,
    });
    return this.#keySet;
  }

  /** RFC 7662: the introspection endpoint's answer as verified access. */
  async #introspect(token: string, address: string | undefined, base: Omit<Parameters<typeof accessFromClaims>[1], 'verifiedBy'>): Promise<ClaimsResult> {
    const answer = await this.#introspection!.introspect(token, address);
    return answer.ok ? accessFromClaims(answer.claims, { ...base, verifiedBy: 'introspection' }) : answer;
  }

  /** RFC 9068 locally, or RFC 7662 when the mode says so (opaque tokens, or every token). */
  async #verifyToken(token: string, scheme: Scheme, address: string | undefined): Promise<ClaimsResult> {
    const { options } = this;
    const jwt = looksLikeJwt(token);
    const base = { format: jwt ? ('jwt' as const) : ('opaque' as const), scheme, issuer: options.issuer };
    if (options.mode === 'introspect' || (!jwt && options.mode === 'auto')) return this.#introspect(token, address, base);
    if (!jwt) return { ok: false, code: 'token_opaque', detail: 'opaque token and no introspection' };
    let key: JWTVerifyGetKey;
    try {
      key = await this.#keys();
    } catch (err) {
      throw new IssuerUnavailable(err);
    }
    const verified = await verifyAccessTokenJwt(token, key, {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: options.algorithms,
      clockTolerance: options.clockToleranceSeconds,
      now: this.#now,
    }).catch((err: unknown) => {
      throw new IssuerUnavailable(err);
    });
    if (!verified.ok) return verified;
    const feed = this.#feed;
    if (feed) {
      if (!feed.isFresh()) {
        await feed.firstPoll();
        if (!feed.isFresh()) {
          // Stale past the bound: introspect instead, or refuse (the default: fail closed).
          if (options.revocationFeed!.whenStale === 'refuse') return { ok: false, code: 'revocations_unavailable', detail: 'revocation feed stale' };
          return this.#introspect(token, address, base);
        }
      }
      if (feed.isRevoked(verified.claims.jti!)) return { ok: false, code: 'token_revoked', detail: 'jti in the revocation feed' };
    }
    return accessFromClaims(verified.claims, { ...base, verifiedBy: 'jwt' });
  }

  /** The built-in read-only rule first, then the call's guards in order; the first refusal wins. */
  #runGuards(access: VerifiedAccess, guards: readonly Guard[], parts: RequestParts): VerifiedAccess {
    const request: GuardRequest = { method: parts.method, url: parts.url };
    for (const check of [(a: VerifiedAccess, r: GuardRequest) => readOnlyRefusal(a, r, guards), ...guards]) {
      const refusal = check(access, request);
      if (refusal) throw this.#deny(refusal.code, access.token.scheme, refusal.detail, refusal.scope);
    }
    return access;
  }

  /** RFC 9449 §4.3: the DPoP proof of a `DPoP` request, checked against the URI the client addressed. */
  async #proof(credentials: Presented, url: URL, parts: RequestParts): Promise<VerifiedProof | undefined> {
    const { scheme, token } = credentials;
    if (scheme !== 'DPoP') return undefined;
    const { options } = this;
    // Without the origin clients address, `htu` could only be compared with the Host header.
    if (!options.publicOrigin) throw this.#deny('dpop_unavailable', scheme, 'publicOrigin is not configured');
    const checked = await verifyProof(credentials.proof, { method: parts.method, url: addressed(url, options.publicOrigin) }, token, {
      algorithms: options.dpop.algorithms,
      iatWindowSeconds: options.dpop.iatWindowSeconds,
      clockToleranceSeconds: options.clockToleranceSeconds,
      now: this.#now,
    });
    if (!checked.ok) throw this.#deny(checked.code, scheme, checked.detail);
    return checked.proof;
  }

  /** The token verified; an unreachable issuer is `issuer_unavailable`, a spent introspection budget `introspection_budget`. */
  async #claims(token: string, scheme: Scheme, address: string | undefined): Promise<VerifiedAccess> {
    let result: ClaimsResult;
    try {
      result = await this.#verifyToken(token, scheme, address);
    } catch (err) {
      if (err instanceof IntrospectionBudgetExceeded) throw this.#deny('introspection_budget', scheme, err.message);
      if (err instanceof IssuerUnavailable || err instanceof DiscoveryFailed || err instanceof IntrospectionUnavailable || err instanceof joseErrors.JWKSTimeout) {
        throw this.#deny('issuer_unavailable', scheme, `${err.name}${err.cause instanceof Error ? `: ${err.cause.name}` : ''}`);
      }
      throw err;
    }
    if (!result.ok) throw this.#deny(result.code, scheme, result.detail);
    return result.access;
  }

  /** RFC 9449 §7.1, §7.2: a bound token only with a fresh proof of its key; an unbound one only as Bearer. */
  async #assertBinding(access: VerifiedAccess, credentials: Presented, proof: VerifiedProof | undefined, parts: RequestParts): Promise<void> {
    const { scheme } = credentials;
    const bound = access.token.keyThumbprint;
    if (scheme === 'Bearer' && bound !== undefined) throw this.#deny('token_bound_presented_as_bearer', scheme, 'cnf.jkt present');
    if (!proof) return;
    if (bound === undefined) throw this.#deny('token_not_bound', scheme, 'no cnf.jkt');
    if (bound !== proof.thumbprint) throw this.#deny('dpop_key_mismatch', scheme, 'proof key is not the bound key');
    const sameRequest = parts.acceptedProofs?.has(credentials.proof!) === true;
    let fresh = sameRequest;
    if (!sameRequest) {
      try {
        fresh = await rememberProof(this.#replayCache, proof);
      } catch (err) {
        // A shared cache that cannot answer: refuse (503), never take the proof for a fresh one.
        throw this.#deny('replay_cache_unavailable', scheme, `replay cache: ${err instanceof Error ? err.name : 'failed'}`);
      }
    }
    if (!fresh) throw this.#deny('dpop_proof_replayed', scheme, 'jti seen before (or the replay cache is full)');
    parts.acceptedProofs?.add(credentials.proof!);
  }

  async #authenticate(parts: RequestParts): Promise<VerifiedAccess> {
    let url: URL;
    try {
      url = new URL(parts.url);
    } catch {
      throw this.#deny('request_malformed', undefined, 'unparseable URL');
    }
    const credentials = readCredentials(url, parts.authorization, parts.dpop);
    if (!credentials.ok) throw this.#deny(credentials.code, credentials.scheme, credentials.detail);
    if (credentials.scheme === 'Bearer' && this.options.dpop.required) throw this.#deny('dpop_required', credentials.scheme, 'Bearer scheme');
    const proof = await this.#proof(credentials, url, parts);
    const access = await this.#claims(credentials.token, credentials.scheme, parts.address);
    await this.#assertBinding(access, credentials, proof, parts);
    return access;
  }

  #logDenial(denied: AccessDenied, parts: RequestParts): void {
    const { logger } = this.options;
    if (!logger) return;
    const fields = { code: denied.code, status: denied.status, error: denied.error, detail: denied.detail, method: parts.method, path: pathOf(parts.url) };
    if (denied.status === 503) logger.warn(fields, 'resource server: issuer unavailable');
    else logger.info(fields, 'resource server: access denied');
  }
}

/** Builds the verification core from validated options. */
export function createVerifier(input: ResourceServerOptions): Verifier {
  return new TokenVerifier(resolveResourceServerOptions(input));
}
