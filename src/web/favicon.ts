import type { Context, Next } from 'koa';

/** A small icon (an "A" on a blue square), so that browsers asking for /favicon.ico get an answer, not a 404. */
export const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1d4ed8"/><path d="M10 24l6-16 6 16M12.4 18h7.2" stroke="#fff" stroke-width="3" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>';

/** Answers GET /favicon.ico with the icon; everything else goes on. */
export async function favicon(ctx: Context, next: Next): Promise<void> {
  if (ctx.path !== '/favicon.ico' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
  ctx.type = 'image/svg+xml';
  ctx.set('Cache-Control', 'public, max-age=86400');
  ctx.body = FAVICON_SVG;
}
