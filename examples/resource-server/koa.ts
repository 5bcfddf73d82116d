import Koa from 'koa';
import { createResourceServer, denyWhenImpersonated, requireScopes, type VerifiedAccess } from 'oidc-provider-token-exchange/resource-server';

const api = createResourceServer({
  issuer: process.env.ISSUER ?? 'http://localhost:3000',
  audience: 'https://api.example.test/orders',
});
const readOrders = api.koa(requireScopes('orders:read'));
const changePassword = api.koa(denyWhenImpersonated());

const app = new Koa();
app.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/orders') {
    return readOrders(ctx, async () => {
      const access: VerifiedAccess = ctx.state.access;
      ctx.body = { subject: access.subject, actor: access.actor ?? null };
    });
  }
  if (ctx.method === 'POST' && ctx.path === '/account/password') {
    return changePassword(ctx, async () => {
      ctx.status = 204; // only the user themself gets here, never someone acting for them
    });
  }
  await next();
});

export const server = app.listen(Number(process.env.PORT ?? 4000), '127.0.0.1');
