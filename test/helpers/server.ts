import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { JWK } from 'jose';
import * as oidc from 'openid-client';
import type { ClientMetadata } from 'oidc-provider';
import type { AuditEvent, AuditSink } from '../../src/audit/events.js';
import { MemoryAuditSink } from '../../src/audit/memory-sink.js';
import type { AuditLog } from '../../src/audit/log.js';
import { MemoryAuditLog } from '../../src/store/audit-memory.js';
import type { Logger } from '../../src/observability/logger.js';
import type { TokenExchangeOptions } from '../../src/config.js';
import { TOKEN_EXCHANGE_GRANT, TokenType } from '../../src/constants.js';
import { createReferenceServer, type ReferenceServer } from '../../src/server/app.js';
import { createDemoApp, type DemoApp } from '../../src/server/demo-app.js';
import { createOrdersApi } from '../../src/server/orders-api.js';
import { signInThroughLoginPage } from '../../src/server/demo-login.js';
import { loadFixtures } from '../../src/server/fixtures.js';
import type { Store } from '../../src/store/index.js';

export { TOKEN_EXCHANGE_GRANT, TokenType };

export const CONFIG_DIR = join(process.cwd(), 'config');
export const PASSWORD = 'demo-password';
export const REASON = 'Ticket 4711: customer cannot see her orders';
export const SUPPORT_CONSOLE = { id: 'support-console', secret: 'support-console-secret' };
export const ORDERS_API = { id: 'orders-api', secret: 'orders-api-secret' };
export const DEMO_APP = { id: 'demo-app', secret: 'demo-app-secret' };
export const ORDERS = 'https://api.example.test/orders';
export const BILLING = 'https://api.example.test/billing';
/** The bearer token `/metrics` asks for in the tests (`METRICS_TOKEN` in the reference server). */
export const METRICS_TOKEN = 'test-metrics-token-4f1c9a';

/** Clients only the tests use, beside the shipped fixtures. */
export const TEST_CLIENTS: ClientMetadata[] = [
  {
    client_id: 'public-app',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', TOKEN_EXCHANGE_GRANT],
    response_types: ['code'],
    redirect_uris: ['http://localhost:3002/callback'],
  },
  {
    client_id: 'rp-offline',
    client_secret: 'rp-offline-secret',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://localhost:3003/callback'],
    scope: 'openid offline_access profile',
  },
  {
    // A support tool that registers no `scope` (oidc-provider then allows every scope): what a
    // host following the README starts with.
    client_id: 'unscoped-console',
    client_secret: 'unscoped-console-secret',
    grant_types: ['authorization_code', TOKEN_EXCHANGE_GRANT],
    response_types: ['code'],
    redirect_uris: ['http://localhost:3004/callback'],
  },
  {
    client_id: 'service-x',
    client_secret: 'service-x-secret',
    grant_types: ['client_credentials', TOKEN_EXCHANGE_GRANT],
    response_types: [],
    redirect_uris: [],
    scope: 'openid profile orders:read',
  },
];

export interface HttpResult {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export interface TestServer {
  readonly issuer: string;
  /** Where this instance listens (the issuer's origin, unless started as another instance of one). */
  readonly listening: string;
  readonly reference: ReferenceServer;
  readonly audit: MemoryAuditSink;
  /** The demo relying party on its own random port, when started with `demoApp: true`. */
  readonly demoApp: DemoApp | undefined;
  /** The orders API's origin, when started with `ordersApi: true` (the demo app then calls it). */
  readonly ordersApiUrl: string | undefined;
  /** How many access tokens the provider has saved or issued so far. */
  issuedCount(): number;
  /** Signs `login` in to a client by authorization code + PKCE (openid-client) and returns its tokens; `resource` (RFC 8707) asks for an API's token. */
  signIn(login: string, client?: { id: string; secret: string; redirectUri?: string }, dpop?: oidc.DPoPHandle, scope?: string, resource?: string): Promise<oidc.TokenEndpointResponse>;
  /** openid-client's configuration for a confidential client of this server. */
  clientConfig(id: string, secret: string): Promise<oidc.Configuration>;
  /** POSTs a token-exchange request as `client` (client_secret_basic) and returns the raw answer. */
  exchange(params: Record<string, string | string[]>, client?: { id: string; secret?: string } | null, headers?: Record<string, string>): Promise<HttpResult>;
  /** POSTs a form to a provider endpoint with client_secret_basic. */
  post(path: string, params: Record<string, string | string[]>, client?: { id: string; secret?: string } | null, headers?: Record<string, string>): Promise<HttpResult>;
  /** Audit records written since the mark. */
  auditSince(mark: number): AuditEvent[];
  auditMark(): number;
  close(): Promise<void>;
}

export interface TestServerOptions {
  store?: Store;
  auditLog?: AuditLog;
  logger?: Logger;
  webhooks?: TokenExchangeOptions['webhooks'];
  policy?: Record<string, unknown>;
  hooks?: TokenExchangeOptions['hooks'];
  audit?: AuditSink;
  trustedIssuers?: TokenExchangeOptions['trustedIssuers'];
  /** The provider's signing keys (private JWKs), so a test can forge tokens "from" the provider. */
  jwks?: { keys: JWK[] };
  /** Also start the demo relying party (docs/admin-console.md) on a random port, registered under that origin. */
  demoApp?: boolean;
  /** Also start the orders API (docs/resource-server.md) on a random port; with `demoApp`, the demo app lists the user's orders from it. */
  ordersApi?: boolean;
  /** Trust this many proxies' `X-Forwarded-*` headers (`TRUST_PROXY` in the reference server). */
  proxy?: number;
  /** Another instance of an issuer: claim this issuer (with its `jwks` and `store`) while listening on a port of its own. */
  issuer?: string;
  /** The demo app's origin to register the clients with, when another instance runs it. */
  demoAppOrigin?: string;
}

function listenOnRandomPort(): Promise<{ server: Server; origin: string }> {
  const server = createServer();
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

function basic(client: { id: string; secret?: string }): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret ?? '')}`).toString('base64')}`;
}

function form(params: Record<string, string | string[]>): URLSearchParams {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) body.append(name, v);
  }
  return body;
}

/**
 * An audit log that also hands every appended record to `memory` (for auditSince()); a bulk
 * action's records go through the log's own `appendAll` when it has one (the Redis log), as in production.
 */
function mirrored(log: AuditLog, memory: MemoryAuditSink): AuditLog {
  const appendAll = log.appendAll?.bind(log);
  return {
    append: async (event, jobs, batch) => {
      const record = await log.append(event, jobs, batch);
      await memory.write(record);
      return record;
    },
    ...(appendAll
      ? {
          appendAll: async (entries: Parameters<typeof appendAll>[0]) => {
            await appendAll(entries);
            for (const { event } of entries) await memory.write(event);
          },
        }
      : {}),
    read: (after, count) => log.read(after, count),
    readBackwards: (before, count) => log.readBackwards(before, count),
    claimDue: (now, lease, max) => log.claimDue(now, lease, max),
    settle: (id) => log.settle(id),
    reschedule: (job, at) => log.reschedule(job, at),
    bury: (job, reason) => log.bury(job, reason),
    deadLetters: () => log.deadLetters(),
  };
}

/** Starts the reference server (shipped config/ plus test clients) on a random 127.0.0.1 port. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { server: http, origin: listening } = await listenOnRandomPort();
  const issuer = options.issuer ?? listening;
  const demoHttp = options.demoApp ? await listenOnRandomPort() : undefined;
  const fixtures = await loadFixtures(CONFIG_DIR, issuer, demoHttp?.origin ?? options.demoAppOrigin);
  const memory = new MemoryAuditSink();
  const given = options.audit;
  // Every record written is mirrored in `memory`, for auditSince(): through the given plain sink,
  // or else through the chained audit log (the production path).
  const audit: AuditSink | undefined = given ? { write: async (event) => { await given.write(event); await memory.write(event); } } : undefined;
  const auditLog = audit ? undefined : mirrored(options.auditLog ?? new MemoryAuditLog(), memory);
  const reference = await createReferenceServer({
    issuer,
    fixtures: {
      ...fixtures,
      clients: [...fixtures.clients, ...TEST_CLIENTS],
      ...(options.trustedIssuers ? { trustedIssuers: options.trustedIssuers } : {}),
      ...(options.webhooks ? { webhooks: options.webhooks } : {}),
    },
    ...(audit ? { audit } : {}),
    ...(auditLog ? { auditLog } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.hooks ? { hooks: options.hooks } : {}),
    ...(options.jwks ? { jwks: options.jwks } : {}),
    ...(options.store ? { store: options.store } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.proxy ? { proxy: options.proxy } : {}),
    metricsToken: METRICS_TOKEN,
  });
  http.on('request', reference.provider.callback());
  const ordersHttp = options.ordersApi ? await listenOnRandomPort() : undefined;
  if (ordersHttp) {
    const ordersApi = createOrdersApi({ issuer, introspection: { clientId: ORDERS_API.id, clientSecret: ORDERS_API.secret } });
    ordersHttp.server.on('request', ordersApi.callback());
    ordersHttp.server.once('close', () => ordersApi.resourceServer.close());
  }
  const demoApp = demoHttp
    ? await createDemoApp({ issuer, origin: demoHttp.origin, clientSecret: DEMO_APP.secret, ...(ordersHttp ? { ordersApi: { resource: ORDERS, url: ordersHttp.origin } } : {}) })
    : undefined;
  if (demoHttp && demoApp) demoHttp.server.on('request', demoApp.callback());

  let issued = 0;
  reference.provider.on('access_token.saved', () => (issued += 1));
  reference.provider.on('access_token.issued', () => (issued += 1));

  const configs = new Map<string, oidc.Configuration>();
  async function clientConfig(id: string, secret: string): Promise<oidc.Configuration> {
    let config = configs.get(id);
    if (!config) {
      config = await oidc.discovery(new URL(issuer), id, secret, undefined, { execute: [oidc.allowInsecureRequests] });
      configs.set(id, config);
    }
    return config;
  }

  async function post(path: string, params: Record<string, string | string[]>, client: { id: string; secret?: string } | null = SUPPORT_CONSOLE, headers: Record<string, string> = {}): Promise<HttpResult> {
    const response = await fetch(new URL(path, issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...(client ? { authorization: basic(client) } : {}), ...headers },
      body: form(params),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  return {
    issuer,
    listening,
    reference,
    audit: memory,
    demoApp,
    ordersApiUrl: ordersHttp?.origin,
    issuedCount: () => issued,
    clientConfig,
    async signIn(login, client = SUPPORT_CONSOLE, dpop, scope = 'openid profile email', resource) {
      const redirectUri = 'redirectUri' in client && client.redirectUri ? client.redirectUri : `${issuer}/admin/callback`;
      const config = await clientConfig(client.id, client.secret);
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        ...(resource ? { resource } : {}),
      });
      const callback = await signInThroughLoginPage({ authorizationUrl: url.href, redirectUri, login, password: PASSWORD });
      return oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }, { redirect_uri: redirectUri, ...(resource ? { resource } : {}) }, dpop ? { DPoP: dpop } : undefined);
    },
    exchange: (params, client = SUPPORT_CONSOLE, headers = {}) => post('/token', { grant_type: TOKEN_EXCHANGE_GRANT, ...params }, client, headers),
    post,
    auditMark: () => memory.records().length,
    auditSince: (mark) => memory.records().slice(mark),
    close: async () => {
      await reference.close();
      for (const server of [http, demoHttp?.server, ordersHttp?.server]) {
        if (!server) continue;
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}

/** The parameters of an impersonation by user id with an actor access token. */
export function impersonate(actorToken: string, subject: string, extra: Record<string, string | string[]> = {}): Record<string, string | string[]> {
  return {
    subject_token: subject,
    subject_token_type: TokenType.userId,
    actor_token: actorToken,
    actor_token_type: TokenType.accessToken,
    reason: REASON,
    ...extra,
  };
}
