// server.ts: an OpenID Provider with token exchange and impersonation, complete as it stands.
//   npm install oidc-provider-token-exchange oidc-provider jose
//   node server.ts (Node 22.18+ strips the types) or compile it with tsc, then open http://localhost:3000
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { createMemoryStore, createStore, MemoryAuditSink, tokenExchange, type AccountDirectory } from 'oidc-provider-token-exchange';
import { connectRedis } from 'oidc-provider-token-exchange/redis';

const port = Number(process.env.PORT ?? 3000);
export const issuer = process.env.ISSUER ?? `http://localhost:${port}`;

// Your users (your database): an agent holding the 'impersonator' role (policy.actorRoles' default) and a customer.
const users = new Map([
  ['agent-7', { name: 'Sam Agent', orgId: 'acme', roles: ['support', 'impersonator'], active: true, password: 'agent-password' }],
  ['alice', { name: 'Alice Example', orgId: 'acme', roles: ['customer'], active: true, password: 'alice-password' }],
]);

const accounts: AccountDirectory = {
  // read live at every exchange: roles, tenant and state are never trusted from old token claims
  async findAccount(id) {
    const user = users.get(id);
    return user && { id, tenant: user.orgId, roles: user.roles, disabled: !user.active };
  },
};

// Process memory (one instance), or Redis shared by every instance. Give each deployment its own
// prefix: it holds this issuer's sessions, grants and impersonations (docs/storage.md).
export const store = process.env.REDIS_URL
  ? createStore(await connectRedis(process.env.REDIS_URL), process.env.REDIS_PREFIX ?? 'my-provider:')
  : createMemoryStore();

export const exchange = tokenExchange({
  accounts,
  store,
  audit: new MemoryAuditSink(), // any { write(event) }; a rejected write issues nothing
  policy: { enabled: true },    // off until enabled
  resourceServers: {
    // the API that takes the exchanged tokens (JWTs it verifies itself, or introspects as 'orders-api')
    'https://api.example.test/orders': { scope: 'orders:read orders:write', accessTokenFormat: 'jwt', clients: ['orders-api'] },
  },
});

// Signing keys and cookie keys: generate them once and keep them in your secret store (made fresh
// here at every start, so a restart ends every session and token).
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwks = { keys: [{ ...(await exportJWK(privateKey)), kid: 'key-1', alg: 'RS256', use: 'sig' }] };

// oidc-provider reads extraTokenClaims, resource indicators and features only at construction:
// build it from exchange.configuration(), then register the grant on it.
export const provider = new Provider(issuer, exchange.configuration({
  jwks,
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  ttl: { AccessToken: 3600, AuthorizationCode: 60, Grant: 8 * 3600, IdToken: 3600, Interaction: 600, Session: 8 * 3600 },
  findAccount: async (_ctx, sub) => (users.has(sub) ? { accountId: sub, claims: () => ({ sub, name: users.get(sub)!.name }) } : undefined),
  clients: [
    {
      // where agents sign in (authorization code + PKCE): the access token they get is the actor_token
      client_id: 'support-tool',
      client_name: 'Support tool',
      client_secret: 'support-tool-secret',
      grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:token-exchange'],
      redirect_uris: [`${issuer}/support/callback`],
      scope: 'openid orders:read',
    },
    // the API's own credentials: an exchanged token is introspected only by the API it is for
    { client_id: 'orders-api', client_secret: 'orders-api-secret', grant_types: [], response_types: [], redirect_uris: [] },
  ],
  scopes: ['openid', 'orders:read', 'orders:write'], // each client's scope must be listed here
  features: { devInteractions: { enabled: false } }, // the login page below answers /interaction/<uid>
}));
exchange.register(provider);

// Your login page (oidc-provider's default interactions.url is /interaction/<uid>): a form that
// checks the password and grants the (first-party) client what it asked for.
provider.use(async (ctx: KoaContextWithOIDC, next: () => Promise<unknown>) => {
  const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(ctx.path);
  if (!match) return void (await next());
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET' && !match[2]) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>Sign in</title><form method="post" action="/interaction/${details.uid}/login">
      <label>Login <input name="login" autocomplete="username"></label>
      <label>Password <input name="password" type="password" autocomplete="current-password"></label>
      <button>Sign in</button></form>`;
    return;
  }
  if (ctx.method !== 'POST' || !match[2]) return void (await next());
  let body = '';
  for await (const chunk of ctx.req) body += String(chunk);
  const form = new URLSearchParams(body);
  const login = form.get('login') ?? '';
  if (users.get(login)?.password !== form.get('password')) {
    ctx.status = 401;
    ctx.body = 'wrong login or password';
    return;
  }
  const grant = new provider.Grant({ accountId: login, clientId: String(details.params.client_id) });
  grant.addOIDCScope(String(details.params.scope ?? 'openid'));
  await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: login }, consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: false });
});

export const server = createServer(provider.callback()).listen(port, () => process.stdout.write(`issuer ${issuer} listening\n`));
