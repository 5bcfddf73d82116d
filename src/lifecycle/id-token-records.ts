import { decodeJwt } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { idTokenRecordId } from '../exchange/token-ids.js';
import type { Logger } from '../observability/logger.js';

type Next = () => Promise<unknown>;

interface Dependencies {
  /** Stores the record under the grant, for `ttlSeconds`. */
  readonly record: (id: string, grantId: string, ttlSeconds: number) => Promise<void>;
  readonly logger: Logger;
}

const epoch = () => Math.floor(Date.now() / 1000);

/**
 * Koa middleware after oidc-provider's token endpoint: records each ID token it issues (authorization
 * code, refresh token and the other grants that answer with one) by digest, under the grant it was
 * issued for. An ID token carries no scope and no revocation state (OIDC Core §2); the record is what
 * lets the token-exchange grant limit what the ID token yields to that grant's scope and end it with
 * the grant (docs/grant.md, "Subject and actor tokens"). A record that cannot be written leaves the
 * token untracked, which the grant refuses: it fails closed, never open.
 */
export function createIdTokenRecorder(deps: Dependencies) {
  return async function recordIdTokens(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    await next();
    if (!('oidc' in ctx) || ctx.oidc?.route !== 'token' || ctx.status !== 200) return;
    const idToken = (ctx.body as { id_token?: unknown } | undefined)?.id_token;
    if (typeof idToken !== 'string') return;
    const grant = ctx.oidc.entities.Grant as { jti?: string } | undefined;
    const grantId = grant?.jti ?? (ctx.oidc.entities.AccessToken as { grantId?: string } | undefined)?.grantId;
    if (!grantId) return;
    let exp: number | undefined;
    try {
      exp = decodeJwt(idToken).exp;
    } catch {
      return; // an encrypted ID token (JWE): it stays untracked
    }
    if (typeof exp !== 'number') return;
    try {
      await deps.record(idTokenRecordId(idToken, undefined), grantId, Math.max(1, exp - epoch()));
    } catch (err) {
      const { name, message } = err instanceof Error ? err : new Error(String(err));
      deps.logger.warn({ err: { name, message } }, 'an ID token could not be recorded: token exchange will refuse it');
    }
  };
}
