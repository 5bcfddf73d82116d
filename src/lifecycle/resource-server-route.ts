import { timingSafeEqual } from 'node:crypto';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { ClientGuessing } from '../exchange/client-guessing.js';
import type { Logger } from '../observability/logger.js';

/*
 * The provider's own routes for resource servers (the revocation feed, activity receipts): one
 * method on one path, clients authenticated with HTTP Basic (RFC 6749 §2.3.1), JSON refusals, and
 * failures answered like oidc-provider's own (a `server_error` body and one bounded log line).
 */

type Next = () => Promise<unknown>;

/** RFC 6749 §2.3.1: the client id and secret are form-encoded inside HTTP Basic. */
function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    const decode = (v: string) => decodeURIComponent(v.replace(/\+/g, ' '));
    return { id: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The id of the client a Basic header proves (a client-secret client), or `undefined`. */
export async function authenticatedClient(provider: Provider, header: string | undefined): Promise<string | undefined> {
  const credentials = basicCredentials(header);
  if (!credentials) return undefined;
  const client = await provider.Client.find(credentials.id).catch(() => undefined);
  const secret = client?.clientSecret;
  if (!client || typeof secret !== 'string' || !['client_secret_basic', 'client_secret_post'].includes(String(client.clientAuthMethod))) return undefined;
  return sameSecret(secret, credentials.secret) ? client.clientId : undefined;
}

/** A JSON refusal (RFC 6749 §5.2 shape); a 401 carries the Basic challenge of the route (RFC 7617). */
export function refuse(ctx: KoaContextWithOIDC, status: number, error: string, description: string, realm: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (status === 401) ctx.set('WWW-Authenticate', `Basic realm="${realm}"`);
  ctx.body = { error, error_description: description };
}

/** Koa middleware answering `method` on `path` with `answer`; anything else passes on. */
export function resourceServerRoute(route: {
  readonly path: string;
  readonly method: 'GET' | 'POST';
  /** The route's name in the Basic challenge and in the log line of a failure. */
  readonly realm: string;
  readonly logger: Logger;
  /** Client-secret guessing, shared with the token endpoints (docs/policy.md "Rate limits"). */
  readonly guessing: ClientGuessing;
  readonly answer: (ctx: KoaContextWithOIDC) => Promise<void>;
}) {
  return async function resourceServerEndpoint(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    if (ctx.path !== route.path) return next() as Promise<void>;
    if (ctx.method !== route.method) {
      ctx.set('Allow', route.method);
      return refuse(ctx, 405, 'invalid_request', `use ${route.method}`, route.realm);
    }
    if (await route.guessing.blocked(ctx)) return;
    try {
      await route.answer(ctx);
      if (ctx.status === 401) await route.guessing.count(ctx, true);
    } catch (err) {
      const { name, message } = err instanceof Error ? err : new Error(String(err));
      route.logger.error({ err: { name, message }, route: route.realm }, `${route.realm} failed`);
      ctx.status = 500;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'server_error', error_description: 'oops! something went wrong' };
    }
  };
}
