import type { Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { REDACT_PATHS } from '../observability/logger.js';
import { createReferenceServer, type ReferenceServer } from './app.js';
import { createDemoApp } from './demo-app.js';
import { loadFixtures } from './fixtures.js';
import { ORDERS_AUDIENCE, startOrdersApi } from './orders-api.js';
import { sharedSecrets } from './secrets.js';
import { openStore } from './store-from-env.js';

/** What `npm start` prints once everything listens: where to go next, readable (the logs are JSON lines). */
function nextSteps(input: { issuer: string; store: string; demoApp: string | undefined; ordersApi: string | undefined; logLevel: string; demoMetricsToken: boolean }): string {
  const { issuer } = input;
  const at = (path: string) => new URL(path, issuer).href;
  const rows: Array<[string, string, string?]> = [
    ['Issuer', issuer, 'discovery: /.well-known/openid-configuration'],
    ['Support console', at('/admin'), 'sign in as support (password demo-password)'],
    ['Account page', at('/account/impersonations'), 'as alice: who acted for her'],
    ...(input.demoApp ? [['Demo app', input.demoApp, 'Acme Orders, with the banner'] as [string, string, string]] : []),
    ...(input.ordersApi ? [['Orders API', `${input.ordersApi}/orders`, 'GET with a bearer token'] as [string, string, string]] : []),
    ['Metrics', at('/metrics'), input.demoMetricsToken ? `bearer ${DEMO_METRICS_TOKEN} (demo: set METRICS_TOKEN)` : 'bearer token from METRICS_TOKEN'],
  ];
  const width = Math.max(...rows.map(([, url]) => url.length));
  return [
    '',
    `oidc-provider-token-exchange reference server, ${input.store}`,
    '',
    ...rows.map(([name, url, note]) => `  ${name.padEnd(16)} ${note ? `${url.padEnd(width)}   ${note}` : url}`),
    '',
    '  Walk-through (README, "Walk-through: act as alice"), in another terminal:',
    `    ACTOR=$(${issuer === 'http://localhost:3000' ? '' : `ISSUER=${issuer} `}npm run -s demo:login -- support demo-password)`,
    '',
    `  Logs follow as JSON lines (LOG_LEVEL=${input.logLevel}; debug adds why each token request was refused). Stop: Ctrl-C.`,
    '',
  ].join('\n');
}

/** `/metrics`'s credential when `METRICS_TOKEN` is unset: documented (docs/reference-server.md), so a demo only. */
const DEMO_METRICS_TOKEN = 'demo-metrics-token';

/** `TRUST_PROXY`: how many reverse proxies set `X-Forwarded-*` (unset or `0`: none, the headers are ignored). */
function trustedProxies(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d{1,2}$/.test(value)) throw new Error(`TRUST_PROXY: must be the number of proxies in front (0, 1, 2, …), not "${value.slice(0, 40)}"`);
  return Number(value);
}

/** `METRICS_TOKEN`: the bearer token `/metrics` asks for. */
function metricsToken(value: string | undefined): string {
  if (value === undefined) return DEMO_METRICS_TOKEN;
  if (!/^[\x21-\x7e]{16,}$/.test(value)) throw new Error('METRICS_TOKEN: must be at least 16 visible ASCII characters');
  return value;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * The reference server's bootstrap: the only place that reads the environment. Beside the provider
 * it starts the orders API (docs/resource-server.md) on `ORDERS_API_PORT` (default 3002) and the demo relying party
 * (docs/admin-console.md) on `DEMO_APP_PORT` (default 3001) at the origin `DEMO_APP_URL` (default
 * `http://localhost:<DEMO_APP_PORT>`); `off` skips either. SIGTERM and SIGINT close every server and
 * the store, then exit.
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const issuer = process.env.ISSUER ?? `http://localhost:${port}`;
  const host = process.env.HOST ?? '127.0.0.1';
  const demoPort = process.env.DEMO_APP_PORT === 'off' ? undefined : Number(process.env.DEMO_APP_PORT ?? 3001);
  const demoOrigin = process.env.DEMO_APP_URL ?? `http://localhost:${demoPort ?? 3001}`;
  const configDir = process.env.CONFIG_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'config');
  const logLevel = process.env.LOG_LEVEL ?? 'info';
  const proxy = trustedProxies(process.env.TRUST_PROXY);
  const metrics = metricsToken(process.env.METRICS_TOKEN);
  const fixtures = await loadFixtures(configDir, issuer, demoOrigin);
  const { store, auditLog, description } = await openStore(process.env);
  const servers: Server[] = [];
  let reference: ReferenceServer | undefined = undefined;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.all(servers.map(closeServer));
    await reference?.close();
    await store.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  const { jwks, cookieKeys } = await sharedSecrets(store, issuer);
  const logger = pino({ level: logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
  reference = await createReferenceServer({ issuer, fixtures, store, jwks, cookieKeys, logger, metricsToken: metrics, proxy, ...(auditLog ? { auditLog } : {}) });
  servers.push(await reference.listen(port, host));
  logger.info({ issuer, host, port, store: description, trustedProxies: proxy }, 'oidc-provider-token-exchange reference server listening');
  const ordersPort = process.env.ORDERS_API_PORT === 'off' ? undefined : Number(process.env.ORDERS_API_PORT ?? 3002);
  if (ordersPort !== undefined) {
    servers.push(await startOrdersApi({ issuer, fixtures, port: ordersPort, host, logger: logger.child({ component: 'orders-api' }) }));
    logger.info({ host, port: ordersPort }, 'orders API listening');
  }
  const demoClient = fixtures.clients.find((c) => c.client_id === 'demo-app');
  let demoApp: string | undefined;
  if (demoPort !== undefined && demoClient?.client_secret) {
    const demo = await createDemoApp({
      issuer,
      origin: demoOrigin,
      clientId: demoClient.client_id,
      clientSecret: demoClient.client_secret,
      logger,
      ...(ordersPort !== undefined ? { ordersApi: { resource: ORDERS_AUDIENCE, url: `http://${host}:${ordersPort}` } } : {}),
    });
    servers.push(await demo.listen(demoPort, host));
    logger.info({ origin: demo.origin, host, port: demoPort }, 'demo app listening');
    demoApp = demo.origin;
  }
  const ordersApi = ordersPort === undefined ? undefined : `http://localhost:${ordersPort}`;
  process.stdout.write(`${nextSteps({ issuer, store: description, demoApp, ordersApi, logLevel, demoMetricsToken: metrics === DEMO_METRICS_TOKEN })}\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
