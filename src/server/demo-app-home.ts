import type { Context } from 'koa';
import { impersonationBanner } from '../banner/index.js';
import { bannerMarkup } from '../banner/render.js';
import { html } from '../web/html.js';
import { readForm } from '../web/forms.js';
import { currentSession, sendPage, type DemoAppContext, type DemoOrdersApi } from './demo-app-context.js';
import { errorPage, ordersCard, signedInHome, signedOutHome, type DemoOrder } from './demo-app-views.js';
import { DemoSessions, type SignedInUser } from './demo-sessions.js';

/**
 * The home page: who the ID token says is signed in, under `<impersonation-banner>` when it
 * carries `act`, and the user's orders when the app calls the orders API.
 */
export async function home(app: DemoAppContext, ctx: Context): Promise<void> {
  const session = currentSession(app, ctx);
  if (!session?.user) return sendPage(ctx, 200, 'Home', signedOutHome(), session);
  const view = impersonationBanner(session.user.claims);
  const banner = view && bannerMarkup(view, { action: '/logout', csrfToken: session.csrf });
  const flash = session.flash;
  delete session.flash;
  const readOnly = (session.user.claims.impersonation as { mode?: unknown } | undefined)?.mode === 'read';
  const list = app.api && session.user.apiToken ? ordersCard(await orders(app.api, session.user), { csrf: session.csrf, readOnly, flash }) : '';
  sendPage(ctx, 200, 'Home', html`${signedInHome({ ...session.user.profile, ...session.user.claims })}${list}`, session, banner);
}

// The signed-in user's orders from the API, or why they could not be read.
async function orders(api: DemoOrdersApi, user: SignedInUser): Promise<{ orders: DemoOrder[] } | { error: string }> {
  try {
    const response = await fetch(`${api.url}/orders`, { headers: { authorization: `Bearer ${user.apiToken}` }, signal: AbortSignal.timeout(5000) });
    const body = (await response.json().catch(() => ({}))) as { orders?: DemoOrder[]; error_description?: string };
    if (!response.ok) return { error: body.error_description ?? `the orders API answered ${response.status}` };
    return { orders: body.orders ?? [] };
  } catch {
    return { error: 'the orders API could not be reached' };
  }
}

/** Asks the orders API to resend an order's confirmation with the user's access token; the answer comes back as a message. */
export async function resend(app: DemoAppContext, ctx: Context, orderId: string): Promise<void> {
  const session = currentSession(app, ctx);
  const form = await readForm(ctx);
  if (!session?.user?.apiToken || !app.api) {
    ctx.status = 303;
    return ctx.redirect('/');
  }
  if (!DemoSessions.csrfMatches(session, form.get('csrf'))) {
    return sendPage(ctx, 403, 'Request refused', errorPage('Request refused', 'The form expired. Reload the page and try again.', 'invalid_csrf_token'), session);
  }
  try {
    const response = await fetch(`${app.api.url}/orders/${encodeURIComponent(orderId)}/confirmation`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session.user.apiToken}` },
      signal: AbortSignal.timeout(5000),
    });
    const body = (await response.json().catch(() => ({}))) as { error?: string; error_description?: string };
    session.flash = response.ok
      ? { kind: 'ok', text: `The confirmation of order ${orderId} is on its way.` }
      : { kind: 'error', text: `The orders API refused (${response.status} ${body.error ?? ''}): ${body.error_description ?? 'no reason given'}.` };
  } catch {
    session.flash = { kind: 'error', text: 'The orders API could not be reached.' };
  }
  ctx.status = 303;
  ctx.redirect('/');
}
