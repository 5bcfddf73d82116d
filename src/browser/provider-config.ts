import { errors, interactionPolicy, type Account, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { IMPERSONATION_AMR, LOOPBACK_INITIATE_LOGIN_URI } from '../constants.js';
import type { ImpersonationRecord, ImpersonationStore } from '../store/impersonations.js';
import { isTicket, isTicketDigestHint, isTicketHint, ticketDigestHint } from './ticket-hints.js';

/** What the composed configuration needs from the extension. */
export interface BrowserConfigDependencies {
  readonly impersonations: ImpersonationStore;
  readonly maxLifetimeSeconds: number;
  /** Where the extension's interaction handler (ticket redemption) is served. */
  readonly interactionPath: string;
  /** Claims an exchanged token was issued with (set by the grant), when this token is one. */
  readonly exchangeClaims: (token: object) => Record<string, unknown> | undefined;
  /**
   * Records a JWT access token by `jti` under its grant (none for client credentials), so that
   * introspection sees its revocation and the token-exchange grant accepts it only while it lives.
   */
  readonly recordJwt: (jti: string, grantId: string | undefined, ttlSeconds: number, audience: readonly string[]) => Promise<void>;
}

type Ctx = KoaContextWithOIDC | undefined;
type Amr = { amr?: string[] | undefined };
type Prompts = NonNullable<NonNullable<Configuration['interactions']>['policy']>;

const epoch = () => Math.floor(Date.now() / 1000);
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** oidc-provider's defaults, for hosts that set none (the composed function must answer in their place). */
const DEFAULT_TTL = {
  AccessToken: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => token.resourceServer?.accessTokenTTL || 3600,
  IdToken: () => 3600,
  Session: () => 14 * 24 * 3600,
};

function marked(entity: Amr | undefined): boolean {
  return entity?.amr?.includes(IMPERSONATION_AMR) === true;
}

/** The session of this request when it was signed in by a ticket (docs/browser-impersonation.md §4), else `undefined`. */
function impersonatedSession(ctx: Ctx) {
  const session = ctx?.oidc?.entities?.Session;
  return session && marked(session) && session.accountId ? session : undefined;
}

/**
 * When the artifact being issued belongs to an impersonated session, the epoch second that
 * session ends: its login (the redemption) plus the lifetime ceiling. At the token endpoint the
 * authorization code carries the session's `amr` and `auth_time`; at the authorization endpoint
 * the session itself does.
 */
function impersonationDeadline(ctx: Ctx, maxLifetime: number): number | undefined {
  const code = ctx?.oidc?.entities?.AuthorizationCode as (Amr & { authTime?: number }) | undefined;
  const session = impersonatedSession(ctx);
  const start = code && marked(code) && typeof code.authTime === 'number' ? code.authTime : session?.loginTs;
  if (start === undefined) return undefined;
  // An impersonation may end before the ceiling (the window the subject approved): its grant expires then.
  const grantExp = (ctx?.oidc?.entities?.Grant as { exp?: unknown } | undefined)?.exp;
  return typeof grantExp === 'number' ? Math.min(start + maxLifetime, grantExp) : start + maxLifetime;
}

/** RFC 8693 §4.1 `act` from an impersonation record's actors (direct actor first, the human last). */
export function actOf(record: ImpersonationRecord): Record<string, unknown> {
  // draft-mcguinness-oauth-actor-profile §3.4: each actor's kind, as recorded when it started.
  const profileAt = (i: number) => record.actorProfiles?.[i] || undefined;
  return record.actors.reduceRight<Record<string, unknown> | undefined>(
    (inner, sub, i) => ({ sub, ...(profileAt(i) ? { sub_profile: profileAt(i) } : {}), ...(inner ? { act: inner } : {}) }),
    undefined,
  )!;
}

/** The claims every token of an impersonation carries (docs/browser-impersonation.md §4): `act` and the impersonation facts. */
export function impersonationClaims(record: ImpersonationRecord): Record<string, unknown> {
  return {
    act: actOf(record),
    impersonation: {
      id: record.impersonationId,
      ...(record.reason ? { reason: record.reason } : {}),
      started_at: record.startedAt,
      ...(record.mode === 'read' ? { mode: 'read' } : {}),
    },
  };
}

function capped<T extends unknown[]>(ttl: unknown, fallback: (...args: T) => number, maxLifetime: number) {
  return (...args: T): number => {
    const hostTtl = typeof ttl === 'number' ? ttl : typeof ttl === 'function' ? (ttl as (...a: T) => number)(...args) : fallback(...args);
    const deadline = impersonationDeadline(args[0] as Ctx, maxLifetime);
    return deadline === undefined ? hostTtl : Math.max(1, Math.min(hostTtl, deadline - epoch()));
  };
}

/** The impersonation records this composition reads: each grant's at most once per request. */
class RecordReader {
  readonly #records = new WeakMap<object, Map<string, Promise<ImpersonationRecord | undefined>>>();

  constructor(
    private readonly impersonations: ImpersonationStore,
    private readonly maxLifetime: number,
  ) {}

  /** The impersonation record of a grant, read at most once per request. */
  recordOf(ctx: Ctx, grantId: string): Promise<ImpersonationRecord | undefined> {
    if (!ctx) return this.impersonations.get(grantId);
    let cache = this.#records.get(ctx);
    if (!cache) this.#records.set(ctx, (cache = new Map()));
    let pending = cache.get(grantId);
    if (!pending) cache.set(grantId, (pending = this.impersonations.get(grantId)));
    return pending;
  }

  /** A browser impersonation's record for this token, if the token comes from an impersonated session. */
  async browserRecord(ctx: Ctx, grantId: unknown): Promise<ImpersonationRecord | undefined> {
    if (typeof grantId !== 'string' || impersonationDeadline(ctx, this.maxLifetime) === undefined) return undefined;
    const record = await this.recordOf(ctx, grantId);
    return record?.kind === 'browser' ? record : undefined;
  }
}

/**
 * The interaction policy with the ticket checks (docs/browser-impersonation.md §3): a ticket
 * `login_hint` requests login, and an impersonated session ends for any other client or once its
 * impersonation ended.
 */
function withTicketChecks(host: Configuration, records: RecordReader): Prompts {
  const policy = host.interactions?.policy ?? interactionPolicy.base();
  const login = policy.find((prompt) => prompt.name === 'login');
  if (!login) throw new Error('token exchange needs the login prompt in interactions.policy');
  // Runs first, on every authorization request: the ticket is replaced by its digest before
  // oidc-provider stores the request's parameters in an interaction (only digests are stored); a
  // digest arriving from outside is no hint at all.
  policy[0]!.checks.add(
    new interactionPolicy.Check('impersonation_ticket_digest', 'the ticket is kept as its digest', 'login_required', (ctx) => {
      const params = ctx.oidc.params as Record<string, unknown> | undefined;
      if (params && ctx.oidc.route === 'authorization') {
        if (isTicket(params.login_hint)) params.login_hint = ticketDigestHint(params.login_hint);
        else if (isTicketDigestHint(params.login_hint)) params.login_hint = undefined;
      }
      return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
    0,
  );
  login.checks.add(
    new interactionPolicy.Check('impersonation_ticket', 'an impersonation ticket was presented', 'login_required', (ctx) =>
      isTicketHint(ctx.oidc.params?.login_hint) && !ctx.oidc.result?.login ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT,
    ),
  );
  login.checks.add(
    new interactionPolicy.Check('impersonation_ended', 'the impersonated session does not extend to this request', 'login_required', async (ctx) => {
      const session = impersonatedSession(ctx);
      if (!session || ctx.oidc.result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const grantId = session.grantIdFor(ctx.oidc.client!.clientId);
      const record = grantId ? await records.recordOf(ctx, grantId) : undefined;
      return record && record.expiresAt > epoch() ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}

/** Ticket logins, and any consent asked inside an impersonated session, go to the extension's interaction; the rest to the host's. */
function interactions(host: Configuration, policy: Prompts, interactionPath: string): Configuration['interactions'] {
  const hostInteractions = host.interactions ?? {};
  const hostUrl = hostInteractions.url ?? (async (_ctx: KoaContextWithOIDC, interaction: { uid: string }) => `/interaction/${interaction.uid}`);
  return {
    ...hostInteractions,
    policy,
    async url(ctx, interaction) {
      const { name } = interaction.prompt;
      if ((name === 'login' && isTicketHint(interaction.params.login_hint)) || (name === 'consent' && impersonatedSession(ctx))) {
        return `${interactionPath}/${interaction.uid}`;
      }
      return hostUrl(ctx, interaction);
    },
  };
}

/** An impersonated session reuses its impersonation's grant; no other session ever does. */
function loadExistingGrant(host: Configuration, records: RecordReader): Configuration['loadExistingGrant'] {
  const hostLoadGrant = host.loadExistingGrant;
  return async (ctx) => {
    const session = impersonatedSession(ctx);
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session?.grantIdFor(ctx.oidc.client!.clientId);
    if (session) return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    // A session that is no impersonation (any more) never reuses an impersonation's grant.
    if (grantId && (await records.recordOf(ctx, grantId))?.kind === 'browser') return undefined;
    if (hostLoadGrant) return hostLoadGrant(ctx);
    return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
  };
}

/** Never a refresh token for an impersonation. */
function issueRefreshToken(host: Configuration): Configuration['issueRefreshToken'] {
  const hostIssueRefresh = host.issueRefreshToken;
  return async (ctx, client, code) => {
    if (marked(code as Amr)) return false;
    if (hostIssueRefresh) return hostIssueRefresh(ctx, client, code);
    return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
  };
}

/** Tokens and the session of an impersonation end with it (never extended). */
function impersonationTtl(host: Configuration, maxLifetime: number): Configuration['ttl'] {
  const hostTtl = host.ttl ?? {};
  return {
    ...hostTtl,
    AccessToken: capped(hostTtl.AccessToken, DEFAULT_TTL.AccessToken, maxLifetime),
    IdToken: capped(hostTtl.IdToken, DEFAULT_TTL.IdToken, maxLifetime),
    Session(ctx, session) {
      const ttl = hostTtl.Session;
      const hostValue = typeof ttl === 'number' ? ttl : typeof ttl === 'function' ? ttl(ctx, session) : DEFAULT_TTL.Session();
      if (!marked(session) || session.loginTs === undefined) return hostValue;
      return Math.max(1, Math.min(hostValue, session.loginTs + maxLifetime - epoch()));
    },
  } as Configuration['ttl'];
}

/** ID tokens and userinfo of an impersonation carry `act` and `impersonation`. */
function findAccount(host: Configuration, records: RecordReader): Configuration['findAccount'] {
  const hostFindAccount = host.findAccount!;
  return async (ctx, sub, token) => {
    const account = await hostFindAccount(ctx, sub, token);
    if (!account) return account;
    const stored = (token as { extra?: Record<string, unknown> } | undefined)?.extra;
    const record = stored?.act ? undefined : await records.browserRecord(ctx, (token as { grantId?: unknown } | undefined)?.grantId);
    const extra = stored?.act ? { act: stored.act, ...(stored.impersonation ? { impersonation: stored.impersonation } : {}) } : record ? impersonationClaims(record) : undefined;
    if (!extra) return account;
    return {
      ...account,
      async claims(...args: Parameters<Account['claims']>) {
        return { ...(await account.claims(...args)), ...extra };
      },
    } as Account;
  };
}

/** Access tokens of an impersonation carry `act`; every JWT access token is recorded (for its revocation). */
function extraTokenClaims(host: Configuration, deps: BrowserConfigDependencies, records: RecordReader): Configuration['extraTokenClaims'] {
  const hostExtraClaims = host.extraTokenClaims;
  return async (ctx, token) => {
    const theirs = hostExtraClaims ? await hostExtraClaims(ctx, token) : undefined;
    const own = deps.exchangeClaims(token);
    if (own) return { ...theirs, ...own };
    const model = token as unknown as {
      jti: string;
      format?: string;
      kind: string;
      grantId?: string;
      exp?: number;
      expiration: number;
      aud?: string | string[];
      resourceServer?: { audience?: string; identifier(): string };
    };
    const record = await records.browserRecord(ctx, model.grantId);
    // Every JWT access token of the provider's own flows is recorded too: a JWT carries no
    // revocation state (RFC 7519), and without a record RFC 7009 revocation would change nothing.
    if (model.format === 'jwt') {
      const ttl = record ? record.expiresAt - epoch() : model.exp ? model.exp - epoch() : model.expiration;
      // Its `aud` (RFC 9068 §2.2), so that its revocation reaches the resource servers it is for.
      const aud = model.aud ?? model.resourceServer?.audience ?? model.resourceServer?.identifier();
      await deps.recordJwt(model.jti, record?.grantId ?? model.grantId, Math.max(1, ttl), aud === undefined ? [] : Array.isArray(aud) ? aud : [aud]);
    }
    return record ? { ...theirs, ...impersonationClaims(record) } : theirs;
  };
}

/** `act` and `impersonation` released with `openid`. */
function claims(host: Configuration): Configuration['claims'] {
  const hostClaims = host.claims ?? { acr: null, sid: null, auth_time: null, iss: null, openid: ['sub'] };
  const openidClaims = Array.isArray(hostClaims.openid) ? hostClaims.openid : ['sub'];
  return { ...hostClaims, openid: [...new Set([...openidClaims, 'act', 'impersonation'])] };
}

/** The loopback initiate-login URI, for local development. */
function extraClientMetadata(host: Configuration): Configuration['extraClientMetadata'] {
  const hostMetadata = host.extraClientMetadata ?? {};
  return {
    ...hostMetadata,
    properties: [...new Set([...(hostMetadata.properties ?? []), LOOPBACK_INITIATE_LOGIN_URI])],
    validator(ctx, key, value, metadata) {
      if (key === LOOPBACK_INITIATE_LOGIN_URI && value !== undefined) {
        let url: URL | undefined;
        try {
          url = new URL(String(value));
        } catch {
          url = undefined;
        }
        if (!url || !['http:', 'https:'].includes(url.protocol) || !LOOPBACK_HOSTS.has(url.hostname)) {
          throw new errors.InvalidClientMetadata(`${LOOPBACK_INITIATE_LOGIN_URI} must be an http(s) URL on a loopback host (localhost, 127.0.0.1, [::1])`);
        }
      }
      return hostMetadata.validator?.(ctx, key, value, metadata);
    },
  };
}

/**
 * Composes the host's oidc-provider configuration with what browser impersonation (docs/browser-impersonation.md) needs
 * at construction. Every host setting keeps working; the extension only adds:
 * - a `login` prompt check that requests login for a ticket `login_hint` and ends an impersonated
 *   session for any other client or once its impersonation ended;
 * - `interactions.url`: such logins (and any consent asked inside an impersonated session) go to
 *   the extension's interaction handler; everything else to the host's;
 * - `ttl`: tokens and the session of an impersonation end with it (never extended);
 * - `issueRefreshToken`: never for an impersonation; `loadExistingGrant`: the impersonation's grant;
 * - `findAccount` and `extraTokenClaims`: ID tokens, userinfo and access tokens carry `act`;
 * - `claims`: `act` and `impersonation` released with `openid`;
 * - `extraClientMetadata`: the loopback initiate-login URI for local development.
 */
export function composeBrowserConfiguration(host: Configuration, deps: BrowserConfigDependencies): Configuration {
  const records = new RecordReader(deps.impersonations, deps.maxLifetimeSeconds);
  const policy = withTicketChecks(host, records);
  return {
    ...host,
    interactions: interactions(host, policy, deps.interactionPath),
    loadExistingGrant: loadExistingGrant(host, records),
    issueRefreshToken: issueRefreshToken(host),
    ttl: impersonationTtl(host, deps.maxLifetimeSeconds),
    findAccount: findAccount(host, records),
    extraTokenClaims: extraTokenClaims(host, deps, records),
    claims: claims(host),
    extraClientMetadata: extraClientMetadata(host),
  };
}
