import { redeemCode, startAuthorization } from './console-client.js';
import { signInThroughLoginPage } from './demo-login.js';

/**
 * `npm run -s demo:login -- <login> [password]`: signs a demo account in to the support console
 * (authorization code + PKCE through the real login page) and prints its access token.
 * Reads ISSUER (default http://localhost:3000), SCOPE (default `openid profile email`) and RESOURCE
 * (an RFC 8707 resource indicator: the token is then for that API); demo client credentials only.
 */
async function main(): Promise<void> {
  const [login = 'support', password = 'demo-password'] = process.argv.slice(2);
  const issuer = process.env.ISSUER ?? 'http://localhost:3000';
  const client = {
    issuer,
    clientId: 'support-console',
    clientSecret: 'support-console-secret',
    redirectUri: new URL('/admin/callback', issuer).href,
  };
  const resource = process.env.RESOURCE || undefined;
  const start = startAuthorization(client, process.env.SCOPE ?? 'openid profile email', resource);
  const callback = await signInThroughLoginPage({ authorizationUrl: start.url, redirectUri: client.redirectUri, login, password });
  if (callback.searchParams.get('state') !== start.state) throw new Error('state mismatch');
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`sign-in refused: ${callback.searchParams.get('error_description') ?? callback.searchParams.get('error')}`);
  const tokens = await redeemCode(client, code, start.verifier, resource);
  process.stdout.write(`${tokens.access_token}\n`);
}

/** `fetch failed` says nothing: name the provider that did not answer and what to do. */
function explain(err: unknown): string {
  const cause = err instanceof TypeError ? (err.cause as { code?: string } | undefined) : undefined;
  if (err instanceof TypeError && err.message === 'fetch failed') {
    const issuer = process.env.ISSUER ?? 'http://localhost:3000';
    return `no provider answers at ${issuer}${cause?.code ? ` (${cause.code})` : ''}: start it with \`npm start\` in another terminal, or set ISSUER to where it runs`;
  }
  return err instanceof Error ? err.message : String(err);
}

main().catch((err: unknown) => {
  console.error(explain(err));
  process.exit(1);
});
