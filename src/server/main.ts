import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createReferenceServer } from './app.js';
import { loadFixtures } from './fixtures.js';

/** The reference server's bootstrap: the only place that reads the environment. */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const issuer = process.env.ISSUER ?? `http://localhost:${port}`;
  const host = process.env.HOST ?? '127.0.0.1';
  const configDir = process.env.CONFIG_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'config');
  const fixtures = await loadFixtures(configDir, issuer);
  const server = await createReferenceServer({ issuer, fixtures });
  await server.listen(port, host);
  process.stdout.write(`oidc-provider-token-exchange reference server: issuer ${issuer}, listening on ${host}:${port}, in-memory store\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
