import { createHash, randomBytes } from 'node:crypto';

/** The support console as an OAuth client of its own provider (authorization code + PKCE). */
export interface ConsoleClient {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUri: string;
}

export interface PkceStart {
  readonly url: string;
  readonly state: string;
  readonly verifier: string;
}

/** RFC 7636 S256 PKCE and a state value, with the authorization URL that uses them (RFC 8707 `resource` optional). */
export function startAuthorization(client: ConsoleClient, scope: string, resource?: string): PkceStart {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const url = new URL('/auth', client.issuer);
  url.search = new URLSearchParams({
    client_id: client.clientId,
    response_type: 'code',
    redirect_uri: client.redirectUri,
    scope,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...(resource ? { resource } : {}),
  }).toString();
  return { url: url.href, state, verifier };
}

export interface TokenSet {
  readonly access_token: string;
  readonly id_token?: string;
  readonly expires_in: number;
  readonly scope?: string;
  readonly token_type: string;
}

/** RFC 6749 §4.1.3 code redemption at the provider's token endpoint (client_secret_basic); RFC 8707 `resource` optional. */
export async function redeemCode(client: ConsoleClient, code: string, verifier: string, resource?: string): Promise<TokenSet> {
  const response = await fetch(new URL('/token', client.issuer), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: verifier, ...(resource ? { resource } : {}) }),
  });
  const body = (await response.json()) as TokenSet & { error?: string; error_description?: string };
  if (!response.ok) throw new Error(`code redemption failed: ${body.error ?? response.status} ${body.error_description ?? ''}`.trim());
  return body;
}
