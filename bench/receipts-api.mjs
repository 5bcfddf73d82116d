// The orders API for bench/receipts.mjs, in its own process: ISSUER, PORT, RECEIPTS=1 (report
// receipts to the provider; RECEIPTS_BATCH sets the toolkit's batchSize). Prints {"ready":true} once it listens; on SIGTERM sends what is queued
// and prints its receipt counts.
import { createOrdersApi } from '../dist/server/orders-api.js';

const api = createOrdersApi({
  issuer: process.env.ISSUER,
  introspection: { clientId: 'orders-api', clientSecret: 'orders-api-secret' },
  revocationFeed: false,
  ...(process.env.RECEIPTS === '1'
    ? {
        receipts: {
          ...(process.env.RECEIPTS_ENDPOINT ? { endpoint: process.env.RECEIPTS_ENDPOINT } : {}),
          ...(process.env.RECEIPTS_BATCH ? { batchSize: Number(process.env.RECEIPTS_BATCH) } : {}),
        },
      }
    : {}),
});
const server = api.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ ready: true })}\n`));
process.on('SIGTERM', async () => {
  server.close();
  await api.resourceServer.close();
  process.stdout.write(`${JSON.stringify({ receipts: api.resourceServer.health().receipts ?? null })}\n`);
  process.exit(0);
});
