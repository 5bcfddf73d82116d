import type { Context } from 'koa';
import type * as oidc from 'openid-client';
import type { Logger } from '../observability/logger.js';
import type { Html } from '../web/html.js';
import { demoPage } from './demo-app-views.js';
import type { DemoSession, DemoSessions, SignedInUser } from './demo-sessions.js';

export const DEMO_APP_COOKIE = 'demo_app_session';
/** Where the demo app serves its stylesheet and the banner element's module. */
export const ASSETS = { css: '/assets/demo-app.css', banner: '/assets/impersonation-banner.js' };

/** The orders API the demo app calls for its user (docs/resource-server.md). */
export interface DemoOrdersApi {
  /** Its RFC 8707 resource indicator. */
  readonly resource: string;
  /** Its base URL. */
  readonly url: string;
}

/** What the demo app's handlers share: its settings, its sessions and the provider's metadata. */
export interface DemoAppContext {
  readonly issuer: string;
  /** The app's own origin: its redirect and logout URIs derive from it. */
  readonly origin: string;
  readonly clientId: string;
  /** Scopes asked at sign-in. */
  readonly scope: string;
  readonly api: DemoOrdersApi | undefined;
  /** Upper bound of an app session, in milliseconds. */
  readonly sessionMs: number;
  readonly redirectUri: string;
  readonly postLogoutRedirectUri: string;
  readonly logger: Logger;
  readonly sessions: DemoSessions;
  /** The provider's metadata, discovered by the first request that needs it (the provider may start after the app). */
  readonly configuration: () => Promise<oidc.Configuration>;
}

/** The session the request's cookie names, if it is live. */
export function currentSession(app: DemoAppContext, ctx: Context): DemoSession | undefined {
  return app.sessions.get(ctx.cookies.get(DEMO_APP_COOKIE));
}

/** Sets the session cookie (httpOnly, SameSite=Lax, Secure over https), or clears it. */
export function setSessionCookie(app: DemoAppContext, ctx: Context, session: DemoSession | undefined): void {
  const attributes = `Path=/; HttpOnly; SameSite=Lax${app.origin.startsWith('https:') ? '; Secure' : ''}`;
  ctx.append('Set-Cookie', session ? `${DEMO_APP_COOKIE}=${session.id}; ${attributes}` : `${DEMO_APP_COOKIE}=; ${attributes}; Max-Age=0`);
}

function displayName(user: SignedInUser): string {
  const name = user.profile?.name ?? user.claims.name;
  return typeof name === 'string' && name !== '' ? name : String(user.claims.sub);
}

/** Answers a page of the demo app: `main` in its frame, with the signed-in user and the banner, if any. */
export function sendPage(ctx: Context, status: number, title: string, main: Html, session?: DemoSession, banner?: Html): void {
  const user = session?.user;
  const name = user && displayName(user);
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = demoPage({
    title,
    main,
    assets: ASSETS,
    ...(banner ? { banner } : {}),
    ...(session && name !== undefined ? { user: { name, csrf: session.csrf } } : {}),
  });
}
