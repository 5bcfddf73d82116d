import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { REDACT_PATHS } from '../observability/logger.js';
import { createReferenceServer } from './app.js';
import { createDemoApp } from './demo-app.js';
import { loadFixtures } from './fixtures.js';
import { ORDERS_AUDIENCE, startOrdersApi } from './orders-api.js';
import { sharedSecrets } from './secrets.js';
import { openStore } from './store-from-env.js';

/**
 * The reference server's bootstrap: the only place that reads the environment. Beside the provider
 * it starts the orders API (SPEC §7) on `ORDERS_API_PORT` (default 3002) and the demo relying party
 * (SPEC §6) on `DEMO_APP_PORT` (default 3001) at the origin `DEMO_APP_URL` (default
 * `http://localhost:<DEMO_APP_PORT>`); `off` skips either.
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const issuer = process.env.ISSUER ?? `http://localhost:${port}`;
  const host = process.env.HOST ?? '127.0.0.1';
  const demoPort = process.env.DEMO_APP_PORT === 'off' ? undefined : Number(process.env.DEMO_APP_PORT ?? 3001);
  const demoOrigin = process.env.DEMO_APP_URL ?? `http://localhost:${demoPort ?? 3001}`;
  const configDir = process.env.CONFIG_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'config');
  const fixtures = await loadFixtures(configDir, issuer, demoOrigin);
  const { store, auditLog, description } = await openStore(process.env);
  const { jwks, cookieKeys } = await sharedSecrets(store);
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
  const server = await createReferenceServer({ issuer, fixtures, store, jwks, cookieKeys, logger, ...(auditLog ? { auditLog } : {}) });
  await server.listen(port, host);
  logger.info({ issuer, host, port, store: description }, 'oidc-provider-token-exchange reference server listening');
  const ordersPort = process.env.ORDERS_API_PORT === 'off' ? undefined : Number(process.env.ORDERS_API_PORT ?? 3002);
  if (ordersPort !== undefined) {
    await startOrdersApi({ issuer, fixtures, port: ordersPort, host, logger: logger.child({ component: 'orders-api' }) });
    logger.info({ host, port: ordersPort }, 'orders API listening (SPEC §7)');
  }
  const demoClient = fixtures.clients.find((c) => c.client_id === 'demo-app');
  if (demoPort !== undefined && demoClient?.client_secret) {
    const demo = await createDemoApp({
      issuer,
      origin: demoOrigin,
      clientId: demoClient.client_id,
      clientSecret: demoClient.client_secret,
      logger,
      ...(ordersPort !== undefined ? { ordersApi: { resource: ORDERS_AUDIENCE, url: `http://${host}:${ordersPort}` } } : {}),
    });
    await demo.listen(demoPort, host);
    logger.info({ origin: demo.origin, host, port: demoPort }, 'demo app listening');
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
