import type { Server } from 'node:http';
import Koa from 'koa';
import type { ResourceServerOptions } from '../resource-server/options.js';
import type { Logger } from '../observability/logger.js';
import { createResourceServer, denyWhenImpersonated, requireScopes, type ResourceServer, type VerifiedAccess } from '../resource-server/index.js';
import type { Fixtures } from './fixtures.js';

/** The orders API's resource indicator (config/impersonation.json): its tokens are JWTs for this audience. */
export const ORDERS_AUDIENCE = 'https://api.example.test/orders';

interface Order {
  readonly id: string;
  readonly item: string;
  readonly total: string;
  readonly status: 'processing' | 'shipped' | 'delivered';
}

/** Demo data: what each fixture account has ordered. */
const ORDERS: Readonly<Record<string, readonly Order[]>> = {
  alice: [
    { id: 'A-1001', item: 'Espresso machine', total: '249.00 EUR', status: 'delivered' },
    { id: 'A-1002', item: 'Coffee beans, 1 kg', total: '24.90 EUR', status: 'shipped' },
  ],
  bob: [{ id: 'B-2001', item: 'Kettle', total: '39.00 EUR', status: 'processing' }],
};

export interface OrdersApiOptions {
  readonly issuer: string;
  /** The `orders-api` client's credentials, to introspect opaque tokens (RFC 7662). */
  readonly introspection?: { clientId: string; clientSecret: string };
  readonly mode?: ResourceServerOptions['mode'];
  /**
   * The provider's revocation feed (docs/resource-server.md, "The revocation feed"), with the same
   * credentials: on by default when `introspection` is given, so a revoked JWT is refused within
   * seconds; `false` turns it off.
   */
  readonly revocationFeed?: false | NonNullable<ResourceServerOptions['revocationFeed']>;
  /** Activity receipts (docs/beyond-impersonation.md), with the same credentials; off unless given. */
  readonly receipts?: NonNullable<ResourceServerOptions['receipts']>;
  readonly logger?: Logger;
}

/** The orders API's Koa app, with its resource server (its health, and `close()` to stop the feed). */
export type OrdersApi = Koa & { readonly resourceServer: ResourceServer };

const accessOf = (ctx: Koa.Context) => ctx.state.access as VerifiedAccess;

/**
 * The reference server's orders API (docs/resource-server.md, docs/reference-server.md), built with the resource-server toolkit:
 * `GET /orders` answers the subject's orders and who acts; `POST /orders/<id>/confirmation` sends
 * the order's confirmation again (a change: refused to a read-only impersonation by the toolkit);
 * `POST /account/password` is refused while anyone acts for the user.
 */
export function createOrdersApi(options: OrdersApiOptions): OrdersApi {
  const feed = options.revocationFeed === false || !options.introspection || options.mode === 'introspect' ? undefined : (options.revocationFeed ?? {});
  const api = createResourceServer({
    issuer: options.issuer,
    audience: ORDERS_AUDIENCE,
    ...(options.introspection ? { introspection: options.introspection } : {}),
    ...(options.mode ? { mode: options.mode } : {}),
    ...(feed ? { revocationFeed: feed } : {}),
    ...(options.receipts && options.introspection ? { receipts: options.receipts } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const readOrders = api.koa(requireScopes('orders:read'));
  // The toolkit refuses every unsafe method to a read-only impersonation: nothing to add here.
  const resendConfirmation = api.koa(requireScopes('orders:read'));
  const changePassword = api.koa(denyWhenImpersonated());

  const app = new Koa();
  app.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    if (ctx.path === '/health' && ctx.method === 'GET') {
      // 503 while the revocation feed is stale: JWTs are refused then (fail closed).
      const health = api.health();
      ctx.status = health.status === 'ok' ? 200 : 503;
      ctx.body = health;
      return;
    }
    if (ctx.path === '/orders' && ctx.method === 'GET') {
      return readOrders(ctx, async () => {
        const access = accessOf(ctx);
        ctx.body = {
          subject: access.subject,
          actor: access.actor ?? null,
          actor_chain: access.actorChain.map((a) => a.sub),
          orders: ORDERS[access.subject] ?? [],
        };
      });
    }
    const confirmation = /^\/orders\/([\w-]{1,40})\/confirmation$/.exec(ctx.path);
    if (confirmation && ctx.method === 'POST') {
      // Demo: support may resend a customer's order confirmation; nothing is sent here.
      return resendConfirmation(ctx, async () => {
        const access = accessOf(ctx);
        const order = (ORDERS[access.subject] ?? []).find((o) => o.id === confirmation[1]);
        if (!order) {
          ctx.status = 404;
          ctx.body = { error: 'not_found', error_description: 'no such order' };
          return;
        }
        ctx.status = 202;
        ctx.body = { order: order.id, confirmation: 'queued', for: access.subject, by: access.actor ?? access.subject };
      });
    }
    if (ctx.path === '/account/password' && ctx.method === 'POST') {
      // Demo: the route only shows the guard; no password is stored or changed here.
      return changePassword(ctx, async () => {
        ctx.status = 204;
      });
    }
    await next();
  });
  return Object.assign(app, { resourceServer: api });
}

/** Starts the orders API with the `orders-api` client of the fixtures as its introspection credentials. */
export function startOrdersApi(options: { issuer: string; fixtures: Fixtures; port: number; host: string; logger?: Logger }): Promise<Server> {
  const client = options.fixtures.clients.find((c) => c.client_id === 'orders-api');
  const app = createOrdersApi({
    issuer: options.issuer,
    ...(client?.client_secret ? { introspection: { clientId: client.client_id, clientSecret: client.client_secret }, receipts: {} } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return new Promise((resolve, reject) => {
    const server = app.listen(options.port, options.host);
    server.once('close', () => app.resourceServer.close());
    server.once('listening', () => resolve(server));
    server.once('error', reject);
  });
}
