import type { DenialCode, Scheme } from './errors.js';

/** The token and scheme a request presents, or the reason it presents none usable. */
export type Credentials =
  | { readonly ok: true; readonly scheme: Scheme; readonly token: string; readonly proof: string | undefined }
  | { readonly ok: false; readonly code: DenialCode; readonly scheme: Scheme | undefined; readonly detail: string };

/** RFC 6750 §2.1 `b64token` (RFC 9449 §7.1 uses the same syntax for `DPoP`). */
const AUTHORIZATION = /^(Bearer|DPoP)[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i;

/**
 * Reads the access token from the `Authorization` header only (RFC 6750 §2.1). A token in the URL
 * query (§2.3) is refused outright; the request body (§2.2) is never read, so a token there counts as
 * no token. Auth schemes are case-insensitive (RFC 9110 §11.1).
 */
export function readCredentials(url: URL, authorization: string | null, dpop: string | null): Credentials {
  if (url.searchParams.has('access_token')) {
    return { ok: false, code: 'token_in_query', scheme: undefined, detail: 'access_token in the query string' };
  }
  if (authorization === null || authorization.trim() === '') return { ok: false, code: 'token_missing', scheme: undefined, detail: 'no Authorization header' };
  const scheme = /^(\S+)/.exec(authorization)?.[1]?.toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'dpop') return { ok: false, code: 'token_missing', scheme: undefined, detail: 'another authentication scheme' };
  const usedScheme: Scheme = scheme === 'dpop' ? 'DPoP' : 'Bearer';
  const match = AUTHORIZATION.exec(authorization);
  if (!match) return { ok: false, code: 'authorization_malformed', scheme: usedScheme, detail: 'not a b64token after the scheme' };
  return { ok: true, scheme: usedScheme, token: match[2]!, proof: dpop ?? undefined };
}
