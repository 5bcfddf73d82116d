import { randomFillSync } from 'node:crypto';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { framingHeaders, strictPolicy } from './security.js';

type Client = InstanceType<Provider['Client']>;

const CSP = 'Content-Security-Policy';
const STATE_KEY = 'cspNonce';

/**
 * The nonce of this response's Content-Security-Policy: an inline `<style>` or `<script>` on a page
 * the provider answers (the host's login and consent pages, `logoutSource`, `renderError`, …) runs
 * only with `nonce="…"` set to it. `undefined` when the extension's policy does not apply (the host
 * set its own). See docs/security.md, "The provider's pages".
 */
export function pageNonce(ctx: { state?: unknown }): string | undefined {
  const value = (ctx.state as Record<string, unknown> | undefined)?.[STATE_KEY];
  return typeof value === 'string' ? value : undefined;
}

function parse(policy: string): Array<[string, string[]]> {
  return policy
    .split(';')
    .map((part) => part.trim().split(/\s+/))
    .filter(([name]) => name)
    .map(([name, ...values]) => [name!, values]);
}

/** Where a client's forms may end: the origins (or, for a native app's URI, the schemes) of its registered redirect URIs. */
function targetsOf(client: Client | undefined, ownOrigin: string): string[] {
  if (!client) return [];
  const uris = [...(client.redirectUris ?? []), ...(client.postLogoutRedirectUris ?? [])];
  const targets = uris.map((uri) => {
    try {
      const url = new URL(uri);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
    } catch {
      return undefined;
    }
  });
  return [...new Set(targets.filter((t): t is string => t !== undefined && t !== ownOrigin && !/[\s;,']/.test(t)))];
}

/**
 * The client a page works for: on oidc-provider's routes the one it resolved, or else the client of
 * the interaction it loaded (resuming a sign-in that replaces another account's session, it posts a
 * logout before it knows the client); on the host's interaction pages the client of the interaction
 * the browser's cookie names. A client that is not registered adds nothing.
 */
async function clientOf(provider: Provider, ctx: Context): Promise<Client | undefined> {
  // `ctx.oidc` is defined on oidc-provider's own routes only.
  const oidc = (ctx as { oidc?: { client?: Client; entities?: { Interaction?: { params?: { client_id?: unknown } } } } }).oidc;
  try {
    if (oidc) {
      if (oidc.client) return oidc.client;
      const clientId = oidc.entities?.Interaction?.params?.client_id;
      return typeof clientId === 'string' ? await provider.Client.find(clientId) : undefined;
    }
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    return await provider.Client.find(String(details.params.client_id));
  } catch {
    return undefined;
  }
}

// 16 random bytes as base64 (a CSP nonce), cut from a pooled CSPRNG buffer: one `getrandom` per 256 nonces, not one each.
const noncePool = Buffer.alloc(4096);
let noncePoolOffset = noncePool.length;
function nonceBytes(): string {
  if (noncePoolOffset + 16 > noncePool.length) {
    randomFillSync(noncePool);
    noncePoolOffset = 0;
  }
  noncePoolOffset += 16;
  return noncePool.toString('base64', noncePoolOffset - 16, noncePoolOffset);
}

/**
 * Middleware the extension installs first on the provider: every response it answers carries a
 * strict Content-Security-Policy with a per-response nonce and `frame-ancestors 'none'`,
 * `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.
 * Set before the routes run, so that oidc-provider adds the hash of the one script its own
 * auto-submitting pages carry (form_post, the logout it posts when an account replaces another).
 * On an HTML page, `form-action` then also allows the page's client (its sign-in or sign-out ends
 * with a redirect there, which CSP 3 `form-action` governs). A policy the host sets — before this
 * middleware, or on its own response — is left as it is.
 */
export function createPageSecurity(provider: Provider) {
  const ownOrigin = new URL(provider.issuer).origin;
  return async function pageSecurity(ctx: Context, next: Next): Promise<void> {
    if (ctx.response.get(CSP)) return next();
    const nonce = nonceBytes();
    (ctx.state as Record<string, unknown>)[STATE_KEY] = nonce;
    ctx.set(CSP, strictPolicy([], nonce));
    framingHeaders(ctx);
    await next();
    const current = ctx.response.get(CSP);
    if (typeof current !== 'string' || !current.includes(`'nonce-${nonce}'`) || !ctx.response.is('html')) return;
    const targets = targetsOf(await clientOf(provider, ctx), ownOrigin);
    if (!targets.length) return;
    const directives = parse(current).map(([name, values]) => [name, name === 'form-action' ? [...new Set([...values, ...targets])] : values] as const);
    ctx.set(CSP, directives.map(([name, values]) => [name, ...values].join(' ')).join('; '));
  };
}
