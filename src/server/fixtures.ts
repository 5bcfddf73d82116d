import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import type { ClientMetadata } from 'oidc-provider';
import { z } from 'zod';
import type { TokenExchangeOptions } from '../config.js';
import { ConfigurationError, resolveOptions } from '../config.js';
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
        profile: z.string().regex(/^[A-Za-z0-9._-]+( [A-Za-z0-9._-]+)*$/).optional(),
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
  delegations: z.record(z.string(), z.unknown()).optional(),
});

/** The reference server's configuration as read from a config/ folder. */
export interface Fixtures {
  readonly accounts: FixtureAccount[];
  readonly clients: ClientMetadata[];
  readonly policy: Record<string, unknown>;
  readonly resourceServers: NonNullable<TokenExchangeOptions['resourceServers']>;
  readonly trustedIssuers: NonNullable<TokenExchangeOptions['trustedIssuers']>;
  readonly webhooks?: TokenExchangeOptions['webhooks'];
  readonly delegations?: TokenExchangeOptions['delegations'];
}

/** A file's path as the operator would type it: relative to the working directory when inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

async function readJson<T>(dir: string, name: string, schema: z.ZodType<T>): Promise<T> {
  const path = join(dir, name);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigurationError(`${shown(path)}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigurationError(`${shown(path)}: ${issue.path.join('.') || '(file)'}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Validates impersonation.json's settings with the library's own option schema at load time, so
 * a bad field is reported against the file: `config/impersonation.json: policy.maxLifetimeSeconds: …`.
 */
function checkExchangeSettings(dir: string, settings: z.infer<typeof exchangeFile>): void {
  try {
    resolveOptions({ accounts: { findAccount: async () => undefined }, ...settings });
  } catch (err) {
    if (!(err instanceof ConfigurationError) || err.issues.length === 0) throw err;
    throw new ConfigurationError(err.issues.map(({ path, message }) => `${shown(join(dir, 'impersonation.json'))}: ${path}: ${message}`).join('\n'), err.issues);
  }
}

/** Where the demo relying party runs unless told otherwise (`DEMO_APP_PORT` / `DEMO_APP_URL`). */
export const DEFAULT_DEMO_APP_ORIGIN = 'http://localhost:3001';

/** The origins the fixture URIs name: `{issuer}` and `{demo-app}` in config/clients.json. */
interface FixtureOrigins {
  readonly issuer: string;
  readonly demoApp: string;
}

/** Replaces the placeholders in client URIs so the fixtures follow the ports the servers run on. */
function withOrigins(value: unknown, origins: FixtureOrigins): unknown {
  if (typeof value === 'string') return value.replaceAll('{issuer}', origins.issuer).replaceAll('{demo-app}', origins.demoApp);
  if (Array.isArray(value)) return value.map((v) => withOrigins(v, origins));
  return value;
}

/**
 * Reads accounts.json, clients.json and impersonation.json from `dir`; `{issuer}` and `{demo-app}`
 * in client URIs become `issuer` and `demoAppOrigin`.
 */
export async function loadFixtures(dir: string, issuer: string, demoAppOrigin: string = DEFAULT_DEMO_APP_ORIGIN): Promise<Fixtures> {
  const origins: FixtureOrigins = { issuer, demoApp: new URL(demoAppOrigin).origin };
  const [accounts, clients, exchange] = await Promise.all([
    readJson(dir, 'accounts.json', accountsFile),
    readJson(dir, 'clients.json', clientsFile),
    readJson(dir, 'impersonation.json', exchangeFile),
  ]);
  checkExchangeSettings(dir, exchange);
  return {
    accounts: accounts.accounts,
    clients: clients.clients.map(
      (client) => Object.fromEntries(Object.entries(client).map(([k, v]) => [k, withOrigins(v, origins)])) as ClientMetadata,
    ),
    policy: exchange.policy,
    resourceServers: exchange.resourceServers as Fixtures['resourceServers'],
    trustedIssuers: exchange.trustedIssuers as Fixtures['trustedIssuers'],
    ...(exchange.webhooks ? { webhooks: exchange.webhooks as Fixtures['webhooks'] } : {}),
    ...(exchange.delegations ? { delegations: exchange.delegations as Fixtures['delegations'] } : {}),
  };
}
