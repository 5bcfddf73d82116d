import type { Context, Next } from 'koa';
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
