import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { RequestFacts } from '../audit/recorder.js';
import { TOKEN_EXCHANGE_GRANT } from '../constants.js';
import { auditableTokenId } from '../exchange/token-ids.js';
import type { IssuerKeys } from '../exchange/keys.js';
import type { Logger } from '../observability/logger.js';
import { audienceOf } from '../exchange/targets.js';
import { NO_GRANT, type ImpersonationStore } from '../store/impersonations.js';
import type { ImpersonationLifecycle } from './service.js';

type Next = () => Promise<unknown>;

/** Who may see or end an exchanged token: decided once, for opaque tokens and JWTs alike. */
export interface ExchangedTokenPolicy {
  /** RFC 7662 §4: only the resource servers the token is meant for. */
  mayIntrospect(clientId: string, audience: readonly string[]): boolean;
  /** RFC 7009 §2.1: the client it was issued to, or a resource server it is meant for. */
  mayRevoke(clientId: string, token: { clientId: string; audience: readonly string[] }): boolean;
}

interface Dependencies {
  readonly provider: Provider;
  readonly lifecycle: ImpersonationLifecycle;
  readonly impersonations: ImpersonationStore;
  readonly keys: IssuerKeys;
  readonly clockTolerance: number;
  readonly policy: ExchangedTokenPolicy;
  readonly requestFacts: (ctx: KoaContextWithOIDC) => RequestFacts;
  readonly logger: Logger;
}

const INACTIVE = Object.freeze({ active: false });

/** RFC 7009 §2.1 refusal, worded as oidc-provider words it for its own tokens. */
export const REVOCATION_NOT_ALLOWED = 'client is not authorized to revoke the presented token';

function isUnsupportedTokenType(ctx: KoaContextWithOIDC): boolean {
  const body = ctx.body as { error?: unknown } | undefined;
  return ctx.status === 400 && body?.error === 'unsupported_token_type' && ctx.oidc.client !== undefined;
}

/**
 * Koa middleware around oidc-provider's introspection and revocation endpoints (RFC 7662, RFC
 * 7009). oidc-provider authenticates the client and handles opaque tokens; this adds, for tokens of
 * the token-exchange grant:
 * - JWT access tokens, which oidc-provider refuses as `unsupported_token_type`: answered from the
 *   `jti` record this extension keeps, so a revoked JWT introspects as inactive;
 * - the cascade: an impersonation whose actor may no longer impersonate, or whose source grant is
 *   gone, or while the switch is off, introspects as exactly `{"active": false}` and is ended;
 * - revocation that ends the whole impersonation (its grant, index entries, derived chains), and
 *   revoking an actor's token ends the impersonations it started.
 */
export function createLifecycleEndpoints(deps: Dependencies) {
  const { provider, lifecycle, impersonations } = deps;

  /**
   * A JWT access token of this provider with a live record, or `undefined`. A client-credentials
   * token is recorded without a grant (`grantId` undefined).
   */
  async function recordedJwt(value: string, ignoreExpiration: boolean): Promise<{ payload: JWTPayload; grantId: string | undefined } | undefined> {
    const keys = deps.keys.forIssuer(provider.issuer)!;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(value, keys, {
        issuer: provider.issuer,
        typ: 'at+jwt',
        clockTolerance: ignoreExpiration ? Number.MAX_SAFE_INTEGER : deps.clockTolerance,
      }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) return undefined;
      throw err;
    }
    const grantId = typeof payload.jti === 'string' ? await impersonations.jwtGrant(payload.jti) : undefined;
    if (grantId === undefined) return undefined;
    if (grantId === NO_GRANT) return payload.sub === payload.client_id ? { payload, grantId: undefined } : undefined;
    const grant = await provider.Grant.find(grantId);
    if (!grant || grant.clientId !== payload.client_id || grant.accountId !== payload.sub) return undefined;
    return { payload, grantId };
  }

  /** docs/introspection-revocation.md cascade, checked live: an exchanged token whose source, actor or switch is gone ends now. */
  async function stands(ctx: KoaContextWithOIDC, grantId: string, hasActor: boolean): Promise<boolean> {
    if (await lifecycle.stillStands(grantId, { impersonation: hasActor })) return true;
    await lifecycle.revokeGrant(grantId, hasActor ? 'cascade_actor_ineligible' : 'cascade_source_revoked', { request: deps.requestFacts(ctx) }, { includeGrant: !hasActor });
    return false;
  }

  async function introspectJwt(ctx: KoaContextWithOIDC): Promise<void> {
    ctx.status = 200;
    ctx.body = INACTIVE;
    const found = await recordedJwt(String(ctx.oidc.params?.token), false);
    if (!found) return;
    const { payload, grantId } = found;
    const audience = audienceOf(payload.aud);
    if (!deps.policy.mayIntrospect(ctx.oidc.client!.clientId, audience)) return;
    if (grantId !== undefined && !(await stands(ctx, grantId, payload.act !== undefined))) return;
    const jkt = (payload.cnf as { jkt?: string } | undefined)?.jkt;
    ctx.body = {
      ...payload,
      active: true,
      token_type: jkt ? 'DPoP' : 'Bearer',
    };
  }

  async function checkOpaqueIntrospection(ctx: KoaContextWithOIDC): Promise<void> {
    const body = ctx.body as { active?: boolean; act?: unknown } | undefined;
    const token = ctx.oidc.entities.AccessToken as { grantId?: string; gty?: string } | undefined;
    if (!body?.active || !token?.grantId) return;
    // Impersonations (exchanged or a browser session's tokens) and delegations of this grant.
    const impersonation = body.act !== undefined;
    if (!impersonation && token.gty !== TOKEN_EXCHANGE_GRANT) return;
    if (!(await stands(ctx, token.grantId, impersonation))) ctx.body = INACTIVE;
  }

  async function revokeJwt(ctx: KoaContextWithOIDC): Promise<void> {
    ctx.status = 200;
    ctx.body = '';
    const found = await recordedJwt(String(ctx.oidc.params?.token), true);
    if (!found) return;
    const clientId = ctx.oidc.client!.clientId;
    const { payload } = found;
    if (!deps.policy.mayRevoke(clientId, { clientId: String(payload.client_id), audience: audienceOf(payload.aud) })) {
      await lifecycle.refuseRevocation({ clientId: String(payload.client_id), subject: payload.sub, tokenId: auditableTokenId(String(payload.jti), 'jwt') }, { actor: clientId, request: deps.requestFacts(ctx) });
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: REVOCATION_NOT_ALLOWED };
      return;
    }
    // RFC 7009 §2.1 lets the server revoke what the token came from; like oidc-provider for its
    // opaque tokens, revoking an access token revokes its grant, and with it what derives from it.
    if (found.grantId === undefined) await impersonations.forgetJwt(String(payload.jti));
    else await lifecycle.revokeGrant(found.grantId, 'revoked_single', { actor: clientId, request: deps.requestFacts(ctx) }, { includeGrant: true });
  }

  /**
   * Our additions fail like oidc-provider's own: a JSON `server_error` (never a plain-text page or a
   * stack trace) and one bounded log line.
   */
  function serverError(ctx: KoaContextWithOIDC, err: unknown): void {
    const { name, message } = err instanceof Error ? err : new Error(String(err));
    deps.logger.error({ err: { name, message }, route: ctx.oidc.route, request_id: deps.requestFacts(ctx).requestId }, 'introspection or revocation failed');
    ctx.status = 500;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error: 'server_error', error_description: 'oops! something went wrong' };
  }

  async function cascadeRevocation(ctx: KoaContextWithOIDC): Promise<void> {
    const token = ctx.oidc.entities.AccessToken as { grantId?: string } | undefined;
    if (ctx.status !== 200 || !token?.grantId) return;
    await lifecycle.revokeGrant(token.grantId, 'revoked_single', { actor: ctx.oidc.client?.clientId, request: deps.requestFacts(ctx) });
  }

  // A grant revoked by the provider: an RP-initiated logout (docs/browser-impersonation.md §4), or a source of impersonations (§3 cascade).
  provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
    const cause = ctx?.oidc?.route?.startsWith('end_session') ? 'ended_by_logout' : 'cascade_source_revoked';
    lifecycle.revokeGrant(grantId, cause, { request: deps.requestFacts(ctx) }).catch(() => undefined);
  });

  return async function impersonationEndpoints(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    await next();
    if (!('oidc' in ctx)) return;
    const route = ctx.oidc?.route;
    try {
      if (route === 'introspection') {
        if (isUnsupportedTokenType(ctx)) await introspectJwt(ctx);
        else await checkOpaqueIntrospection(ctx);
      } else if (route === 'revocation') {
        if (isUnsupportedTokenType(ctx)) await revokeJwt(ctx);
        else await cascadeRevocation(ctx);
      }
    } catch (err) {
      serverError(ctx, err);
    }
  };
}
