import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientMetadata } from 'oidc-provider';
import { z } from 'zod';
import type { TokenExchangeOptions } from '../config.js';
import { ConfigurationError } from '../config.js';
import type { FixtureAccount } from './accounts.js';

const accountsFile = z.object({
  accounts: z.array(
    z
      .object({
        id: z.string().min(1),
        tenant: z.string().min(1).optional(),
        roles: z.array(z.string()),
        disabled: z.boolean().optional(),
        name: z.string(),
        email: z.string(),
        passwordHash: z.string().startsWith('scrypt$'),
      })
      .strict(),
  ),
});

const clientsFile = z.object({ clients: z.array(z.record(z.string(), z.unknown())) });

const exchangeFile = z.object({
  policy: z.record(z.string(), z.unknown()),
  resourceServers: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  trustedIssuers: z.array(z.record(z.string(), z.unknown())).default([]),
  webhooks: z.record(z.string(), z.unknown()).optional(),
});

/** The reference server's configuration as read from a config/ folder. */
export interface Fixtures {
  readonly accounts: FixtureAccount[];
  readonly clients: ClientMetadata[];
  readonly policy: Record<string, unknown>;
  readonly resourceServers: NonNullable<TokenExchangeOptions['resourceServers']>;
  readonly trustedIssuers: NonNullable<TokenExchangeOptions['trustedIssuers']>;
  readonly webhooks?: TokenExchangeOptions['webhooks'];
}

async function readJson<T>(dir: string, name: string, schema: z.ZodType<T>): Promise<T> {
  const path = join(dir, name);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ConfigurationError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigurationError(`${path}: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

/** Replaces `{issuer}` in client URIs so the fixtures follow the `ISSUER` the server runs under. */
function withIssuer(value: unknown, issuer: string): unknown {
  if (typeof value === 'string') return value.replaceAll('{issuer}', issuer);
  if (Array.isArray(value)) return value.map((v) => withIssuer(v, issuer));
  return value;
}

/** Reads accounts.json, clients.json and impersonation.json from `dir`. */
export async function loadFixtures(dir: string, issuer: string): Promise<Fixtures> {
  const [accounts, clients, exchange] = await Promise.all([
    readJson(dir, 'accounts.json', accountsFile),
    readJson(dir, 'clients.json', clientsFile),
    readJson(dir, 'impersonation.json', exchangeFile),
  ]);
  return {
    accounts: accounts.accounts,
    clients: clients.clients.map(
      (client) => Object.fromEntries(Object.entries(client).map(([k, v]) => [k, withIssuer(v, issuer)])) as ClientMetadata,
    ),
    policy: exchange.policy,
    resourceServers: exchange.resourceServers as Fixtures['resourceServers'],
    trustedIssuers: exchange.trustedIssuers as Fixtures['trustedIssuers'],
    ...(exchange.webhooks ? { webhooks: exchange.webhooks as Fixtures['webhooks'] } : {}),
  };
}
