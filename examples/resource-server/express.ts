import express from 'express';
import { createResourceServer, denyWhenImpersonated, requireScopes } from 'oidc-provider-token-exchange/resource-server';

const api = createResourceServer({
  issuer: process.env.ISSUER ?? 'http://localhost:3000',
  audience: 'https://api.example.test/orders',
});

const app = express();
app.get('/orders', api.express(requireScopes('orders:read')), (_req, res) => {
  const { subject, actor } = res.locals.access!; // set by api.express()
  res.json({ subject, actor: actor ?? null });
});
app.post('/account/password', api.express(denyWhenImpersonated()), (_req, res) => {
  res.sendStatus(204); // only the user themself gets here, never someone acting for them
});

export const server = app.listen(Number(process.env.PORT ?? 4001), '127.0.0.1');
