import type { Server } from 'node:http';
import type { JWK } from 'jose';
import type { AuditSink } from '../audit/events.js';
import type { TokenExchangeOptions } from '../config.js';
import type { AuditLog } from '../audit/log.js';
import type { Logger } from '../observability/logger.js';
import { approvalMessage, startedMessage, type SubjectNotice } from '../notify/notice.js';
import { metricsRoute, refusalDebugLog, requestLog } from './observability.js';
import type { Store } from '../store/index.js';
import { FixtureAccounts } from './accounts.js';
import type { Fixtures } from './fixtures.js';
import { interactionRoutes } from './interactions.js';
import { favicon } from '../web/favicon.js';
import { createReferenceProvider, type ReferenceProvider } from './provider.js';

export interface ReferenceServerOptions {
  readonly issuer: string;
  readonly fixtures: Fixtures;
  readonly audit?: AuditSink;
  readonly auditLog?: AuditLog;
  readonly logger?: Logger;
  readonly store?: Store;
  readonly jwks?: { keys: JWK[] };
  readonly cookieKeys?: string[];
  readonly hooks?: TokenExchangeOptions['hooks'];
  /** Overrides of the fixture policy (tests). */
  readonly policy?: Record<string, unknown>;
  /** The bearer token `GET /metrics` asks for (`METRICS_TOKEN`); without one, `/metrics` is not served. */
  readonly metricsToken?: string;
  /**
   * How many reverse proxies in front set `X-Forwarded-For` / `-Proto` / `-Host` (`TRUST_PROXY`):
   * Koa's `proxy` and `maxIpsCount` on the provider. Unset: those headers are ignored.
   */
  readonly proxy?: number;
}

export interface ReferenceServer extends ReferenceProvider {
  readonly accounts: FixtureAccounts;
  listen(port: number, host?: string): Promise<Server>;
  /** Stops background work (webhook delivery). */
  close(): Promise<void>;
}

/**
 * The reference server's `notifySubject`: it has no mailer, so it logs the message it would send —
 * without the reason (logs never carry one) and without the one-time link (a credential) — then
 * hands the notice on to a hook given by the caller (tests).
 */
function loggingNotifier(logger: Logger | undefined, next: ((notice: SubjectNotice) => void | Promise<void>) | undefined) {
  return async (notice: SubjectNotice): Promise<void> => {
    const message = notice.type === 'impersonation.started' ? startedMessage(notice, { withReason: false }) : approvalMessage(notice, { withReason: false });
    logger?.info({ event: 'subject.notice', notice: notice.type, to: notice.subject, message, link: notice.type === 'approval.requested' && notice.link ? '(withheld)' : undefined }, 'would tell the subject');
    await next?.(notice);
  };
}

/** Assembles the reference server: provider + token exchange, login pages, support-console sign-in. */
export async function createReferenceServer(options: ReferenceServerOptions): Promise<ReferenceServer> {
  const { fixtures, issuer } = options;
  const accounts = new FixtureAccounts(fixtures.accounts);
  const hooks = { ...options.hooks, notifySubject: loggingNotifier(options.logger, options.hooks?.notifySubject) };
  const reference = await createReferenceProvider({
    issuer,
    accounts,
    clients: fixtures.clients,
    policy: { ...fixtures.policy, ...options.policy },
    resourceServers: fixtures.resourceServers,
    trustedIssuers: fixtures.trustedIssuers,
    hooks,
    ...(options.audit ? { audit: options.audit } : {}),
    ...(options.auditLog ? { auditLog: options.auditLog } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(fixtures.webhooks ? { webhooks: fixtures.webhooks } : {}),
    ...(fixtures.delegations ? { delegations: fixtures.delegations } : {}),
    ...(options.store ? { store: options.store } : {}),
    ...(options.jwks ? { jwks: options.jwks } : {}),
    ...(options.cookieKeys ? { cookieKeys: options.cookieKeys } : {}),
  });
  accounts.onChange((id) => reference.exchange.actorChanged(id));
  const consoleClient = fixtures.clients.find((c) => c.client_id === 'support-console');
  if (options.logger) {
    // Outermost (before every middleware the extension installed): it logs the status the client gets.
    reference.provider.middleware.unshift(requestLog(options.logger));
    refusalDebugLog(reference.provider, options.logger);
  }
  if (options.proxy) {
    // Koa takes the client's address from the right of X-Forwarded-For, one entry per proxy we trust.
    reference.provider.proxy = true;
    reference.provider.maxIpsCount = options.proxy;
  }
  if (options.metricsToken) reference.provider.use(metricsRoute(reference.exchange.metrics.registry, options.metricsToken));
  reference.provider.use(favicon);
  reference.provider.use(interactionRoutes(reference.provider, accounts));
  reference.provider.use(reference.exchange.adminApi());
  reference.provider.use(reference.exchange.revocationFeed());
  reference.provider.use(reference.exchange.receipts());
  const accountClient = fixtures.clients.find((c) => c.client_id === 'account');
  if (accountClient?.client_secret) {
    reference.provider.use(reference.exchange.accountPage({ clientId: accountClient.client_id, clientSecret: accountClient.client_secret, product: 'Acme account' }));
  }
  if (consoleClient?.client_secret) {
    reference.provider.use(
      reference.exchange.adminConsole({ clientId: consoleClient.client_id, clientSecret: consoleClient.client_secret, applications: ['demo-app'], product: 'Acme support console' }),
    );
  }
  return {
    ...reference,
    accounts,
    close: () => reference.exchange.close(),
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        const server = reference.provider.listen(port, host);
        server.once('listening', () => resolve(server));
        server.once('error', reject);
      });
    },
  };
}
