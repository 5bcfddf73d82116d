import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';

/** `GET /metrics`: the Prometheus text exposition of the extension's instruments. */
export function metricsRoute(registry: Registry) {
  return async function metrics(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== '/metrics' || ctx.method !== 'GET') return next();
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  };
}

/** One log line per request: method, path (never the query string: it can carry codes), status, time. */
export function requestLog(logger: Logger) {
  return async function log(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      logger.info(
        { method: ctx.method, path: ctx.path, status: ctx.status, ms: Number(process.hrtime.bigint() - started) / 1e6 },
        'request',
      );
    }
  };
}

/**
 * With `LOG_LEVEL=debug`: one line per refused token request with the refusal's private detail
 * (which rule, and why: e.g. the scope lists that left nothing), which the client never sees.
 * Details name accounts, roles and scopes, never a token value; cut to 300 characters.
 */
export function refusalDebugLog(provider: Provider, logger: Logger & { debug?(fields: Record<string, unknown>, message: string): void }): void {
  if (!logger.debug) return;
  const debug = logger.debug.bind(logger);
  provider.on('grant.error', (ctx: Context, err: { error?: string; error_detail?: string }) => {
    debug({ path: ctx.path, error: err.error, detail: err.error_detail?.slice(0, 300) }, 'token request refused');
  });
}
