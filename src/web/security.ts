import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

/**
 * The extension's Content-Security-Policy: no inline script or style (unless it carries `nonce`),
 * framing refused, forms posting (and redirecting, CSP 3 `form-action`) only here and to
 * `formAction`.
 */
export function strictPolicy(formAction: readonly string[] = [], nonce?: string): string {
  const inline = nonce ? ` 'nonce-${nonce}'` : '';
  return [
    "default-src 'none'",
    `script-src 'self'${inline}`,
    `style-src 'self'${inline}`,
    "img-src 'self' data:",
    "connect-src 'self'",
    `form-action 'self'${formAction.map((origin) => ` ${origin}`).join('')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** The headers beside the policy: framing refused for old browsers too, no sniffing, no referrer. */
export function framingHeaders(ctx: Context): void {
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
}

/**
 * Headers every page of the extension sends: a strict Content-Security-Policy (no inline script or
 * style; framing refused), no caching, no referrer. `formAction` lists origins a form may post or
 * redirect to beyond this one (CSP applies `form-action` to a form's redirects too).
 */
export function pageHeaders(ctx: Context, formAction: readonly string[] = []): void {
  ctx.set('Content-Security-Policy', strictPolicy(formAction));
  framingHeaders(ctx);
  ctx.set('Cache-Control', 'no-store');
}

/** A fresh CSRF token (synchronizer pattern: kept in the server-side session, echoed by forms). */
export function newCsrfToken(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * Whether a state-changing request is genuine: the form's token matches the session's, and the
 * browser did not mark it as coming from another site (Origin / Sec-Fetch-Site, when sent).
 */
export function csrfHolds(ctx: Context, expected: string, given: string | null | undefined, ownOrigin: string): boolean {
  const site = ctx.get('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return false;
  // Under `Referrer-Policy: no-referrer` browsers send `Origin: null` with a form post (Fetch
  // §3.2.5): that says nothing about the site, so the token (and Sec-Fetch-Site) decide.
  const origin = ctx.get('origin');
  if (origin && origin !== 'null' && origin !== ownOrigin) return false;
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
