import type { Context, Next } from 'koa';
import { serveAsset, type AssetOptions } from './assets.js';
import { readForm } from './forms.js';
import type { Html } from './html.js';
import { csrfHolds, pageHeaders } from './security.js';

/** What a route's handler is given: the path's captured segments, the form of a POST, and the signed-in state. */
export interface PageRequest<S> {
  /** The groups of the route's pattern, as they appear in the path (still percent-encoded). */
  readonly params: readonly string[];
  /** The `application/x-www-form-urlencoded` body of a POST; empty on GET. */
  readonly form: URLSearchParams;
  readonly state: S;
}

interface RouteShape {
  readonly method: 'GET' | 'POST';
  /** A path under the app's base: the exact path, or a pattern whose groups become `params`. */
  readonly path: string | RegExp;
}

/** A route anyone may reach: the sign-in callback, a one-time link. */
export interface PublicRoute extends RouteShape {
  readonly access: 'public';
  readonly handler: (ctx: Context, request: PageRequest<undefined>) => Promise<void> | void;
}

/**
 * A route for a signed-in user: the app's gate runs first, and a POST must carry the session's CSRF
 * token. `ownRules` marks a route whose handler applies its own (audited) rules on who may act, so
 * the gate checks only that the session stands.
 */
export interface SignedInRoute<S> extends RouteShape {
  readonly access?: 'signed-in';
  readonly ownRules?: boolean;
  readonly handler: (ctx: Context, request: PageRequest<S>) => Promise<void> | void;
}

/** One line of a page app's route table. */
export type Route<S> = PublicRoute | SignedInRoute<S>;

/** How a page app tells who is signed in, and what it answers when nobody is or a form is not genuine. */
export interface PageGate<S> {
  /** The signed-in state, or `undefined` once the gate has answered (sign-in started, a refusal shown). */
  readonly signedIn: (ctx: Context, route: SignedInRoute<S> | undefined) => Promise<S | undefined>;
  readonly csrfToken: (state: S) => string;
  /** This site's origin: a form posted from anywhere else is refused. */
  readonly ownOrigin: string;
  /** Answers a form that failed the CSRF check. */
  readonly forged: (ctx: Context) => void;
}

/** A server-rendered app under one path of the provider: its routes, assets and gate. */
export interface PageApp<S> {
  readonly base: string;
  /** Whether the base path itself (`/admin`) belongs to the app, not only the paths under it. */
  readonly ownsBase?: boolean;
  /** Paths under the base left to the next middleware (the console's JSON API under `/api`). */
  readonly leaves?: readonly string[];
  readonly assets: AssetOptions;
  readonly routes: readonly Route<S>[];
  readonly gate: PageGate<S>;
  /** Whether a path no route serves still needs a session (it then reveals nothing to a stranger). */
  readonly guardsUnmatched?: boolean;
  /** Answers an error a handler threw, or returns false to let it propagate. */
  readonly errorPage?: (ctx: Context, err: unknown) => boolean;
}

/** Sends a server-rendered page with the pages' security headers (docs/security.md); `status` as already set when omitted. */
export function sendPage(ctx: Context, page: Html, options: { status?: number; formAction?: readonly string[] } = {}): void {
  pageHeaders(ctx, options.formAction);
  if (options.status !== undefined) ctx.status = options.status;
  ctx.type = 'html';
  ctx.body = page.value;
}

/** Sends a short plain-text answer (a refused form) with the pages' security headers. */
export function sendText(ctx: Context, text: string, status: number): void {
  pageHeaders(ctx);
  ctx.status = status;
  ctx.type = 'text';
  ctx.body = text;
}

function match<S>(routes: readonly Route<S>[], method: string, path: string): { route: Route<S>; params: string[] } | undefined {
  for (const route of routes) {
    if (route.method !== method) continue;
    if (typeof route.path === 'string') {
      if (route.path === path) return { route, params: [] };
      continue;
    }
    const found = route.path.exec(path);
    if (found) return { route, params: found.slice(1) };
  }
  return undefined;
}

function within<S>(app: PageApp<S>, path: string): boolean {
  const under = (prefix: string) => path === prefix || path.startsWith(`${prefix}/`);
  if (!(app.ownsBase ? under(app.base) : path.startsWith(`${app.base}/`))) return false;
  return !(app.leaves ?? []).some((leaf) => under(`${app.base}${leaf}`));
}

/** One request through the app: assets, public routes, then the gate and the CSRF check before a signed-in route. */
async function serve<S>(app: PageApp<S>, ctx: Context, path: string): Promise<void> {
  if (ctx.method === 'GET' && (await serveAsset(ctx, path, app.assets))) return;
  const found = match(app.routes, ctx.method, path);
  if (found?.route.access === 'public') {
    const form = ctx.method === 'POST' ? await readForm(ctx) : new URLSearchParams();
    return found.route.handler(ctx, { params: found.params, form, state: undefined });
  }
  const route = found?.route;
  if (!route && !app.guardsUnmatched) return;
  const state = await app.gate.signedIn(ctx, route);
  if (state === undefined) return;
  const form = ctx.method === 'POST' ? await readForm(ctx) : new URLSearchParams();
  if (ctx.method === 'POST' && !csrfHolds(ctx, app.gate.csrfToken(state), form.get('csrf'), app.gate.ownOrigin)) return app.gate.forged(ctx);
  return route?.handler(ctx, { params: found?.params ?? [], form, state });
}

/**
 * Koa middleware serving a page app: the first route of the table matching the method and path
 * answers; a request the app leaves unanswered goes on to the next middleware.
 */
export function createPageApp<S>(app: PageApp<S>) {
  return async function pageApp(ctx: Context, next: Next): Promise<void> {
    if (!within(app, ctx.path)) return next();
    try {
      await serve(app, ctx, ctx.path.slice(app.base.length));
    } catch (err) {
      if (!app.errorPage?.(ctx, err)) throw err;
    }
    if (ctx.body === undefined && ctx.status === 404) await next();
  };
}
