import type { Context } from 'koa';
import type { Backend } from '../store/backend.js';
import type { KeyLayout } from '../store/keys.js';
import type { PublicRoute } from './app.js';
import { WebSessions } from './sessions.js';
import { createSignIn, type FirstPartyClient, type SignIn } from './sign-in.js';

/** A completed sign-in, as `SignIn.finish` returns it. */
export type FinishedSignIn = Awaited<ReturnType<SignIn['finish']>>;

/** What a page app keeps of a user it admits: the session's data and lifetime, and where to land. */
export interface Admission<T> {
  readonly data: T;
  readonly ttlSeconds: number;
  readonly returnTo: string;
}

/** The sessions of a page app and its sign-in through this very provider. */
export interface PageSignIn<T extends object> {
  readonly sessions: WebSessions<T>;
  readonly signIn: SignIn;
  /**
   * The redirect URI's route (`GET /callback`): finishes the sign-in, lets the app admit the user
   * (`admit` throws to refuse), starts the session and redirects; `failed` answers any error.
   */
  readonly callback: (admit: (finished: FinishedSignIn) => Promise<Admission<T>>, failed: (ctx: Context, err: unknown) => void) => PublicRoute;
}

/**
 * Sign-in for a page app under `base` as a first-party client (redirect URI
 * `<issuer><base>/callback`): the session in the cookie `<name>.session`, the pending sign-in in
 * `<name>.signin`, both scoped to `base`.
 */
export function createPageSignIn<T extends object>(options: {
  readonly name: string;
  readonly base: string;
  readonly client: Omit<FirstPartyClient, 'redirectUri'>;
  readonly store: { readonly backend: Backend; readonly keys: KeyLayout };
}): PageSignIn<T> {
  const { name, base, client, store } = options;
  const sessions = new WebSessions<T>(store.backend, store.keys, { name: `${name}.session`, path: base });
  const signIn = createSignIn({ ...client, redirectUri: `${client.issuer.replace(/\/$/, '')}${base}/callback` }, store, { name: `${name}.signin`, path: base });
  return {
    sessions,
    signIn,
    callback: (admit, failed) => ({
      method: 'GET',
      path: '/callback',
      access: 'public',
      async handler(ctx) {
        try {
          const admitted = await admit(await signIn.finish(ctx));
          await sessions.create(ctx, admitted.data, admitted.ttlSeconds);
          ctx.redirect(admitted.returnTo);
        } catch (err) {
          failed(ctx, err);
        }
      },
    }),
  };
}
