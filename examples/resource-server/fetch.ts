import { AccessDenied, createResourceServer, denyWhenImpersonated, requireScopes } from 'oidc-provider-token-exchange/resource-server';

const api = createResourceServer({
  issuer: process.env.ISSUER ?? 'http://localhost:3000',
  audience: 'https://api.example.test/orders',
});

/** A fetch handler: Request in, Response out (Next.js route handlers, Hono, Deno.serve, Bun, workers). */
export async function handle(request: Request): Promise<Response> {
  const { pathname } = new URL(request.url);
  try {
    if (request.method === 'GET' && pathname === '/orders') {
      const access = await api.verifyRequest(request, requireScopes('orders:read'));
      return Response.json({ subject: access.subject, actor: access.actor ?? null });
    }
    if (request.method === 'POST' && pathname === '/account/password') {
      await api.verifyRequest(request, denyWhenImpersonated());
      return new Response(null, { status: 204 }); // only the user themself gets here
    }
    return new Response(null, { status: 404 });
  } catch (err) {
    if (err instanceof AccessDenied) return err.toResponse(); // 401/403 + WWW-Authenticate (RFC 6750 §3)
    throw err;
  }
}
