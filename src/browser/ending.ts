import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { IMPERSONATION_AMR } from '../constants.js';
import { html, Html } from '../web/html.js';
import { pageNonce } from '../web/provider-pages.js';

type LogoutSource = (ctx: KoaContextWithOIDC, form: string) => Promise<void> | void;

const STYLE = new Html(`body{margin:0;background:#f3f4f7;color:#1b2230;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif}
main{max-width:30rem;margin:12vh auto;padding:0 1.25rem}
.card{background:#fff;border:1px solid #dfe3ea;border-top:6px solid #ffc400;border-radius:.75rem;padding:1.5rem 1.5rem 1.75rem;box-shadow:0 1px 2px rgb(16 24 40 / .05)}
h1{font-size:1.4rem;line-height:1.3;margin:0 0 .6rem}
p{margin:0 0 1.25rem;color:#34405a}
button{appearance:none;border:2px solid #161616;border-radius:.5rem;padding:.6rem 1.2rem;background:#161616;color:#fff;font:inherit;font-weight:650;cursor:pointer}
button:focus-visible{outline:3px solid #1a56c4;outline-offset:2px}
.muted{color:#5b6576;font-size:.9rem;margin:1rem 0 0}`);

/** The session of this logout request when a ticket signed it in, else `undefined`. */
function impersonated(ctx: KoaContextWithOIDC) {
  const session = ctx.oidc.session;
  return session?.accountId && session.amr?.includes(IMPERSONATION_AMR) ? session : undefined;
}

/**
 * Whether the request carries the relying party's own ID token of this very session
 * (`id_token_hint`, already verified by oidc-provider): then the request is the relying party's, and
 * the ending needs no click. Its `sid`, when it has one, must be the session's.
 */
function hintedByItsClient(ctx: KoaContextWithOIDC, accountId: string): boolean {
  const hint = (ctx.oidc.entities as { IdTokenHint?: { payload?: Record<string, unknown> } }).IdTokenHint?.payload;
  const client = ctx.oidc.client;
  if (!hint || !client || hint.sub !== accountId) return false;
  const sid = hint.sid;
  return sid === undefined || sid === ctx.oidc.session?.sidFor(client.clientId);
}

/**
 * The page RP-initiated logout shows in an impersonated session (docs/browser-impersonation.md,
 * "How an impersonation ends"): no generic question, since any logout there ends the impersonation.
 * oidc-provider's form (with its xsrf token bound to the session) always carries `logout=yes`, so the
 * provider session ends too; with the relying party's ID token of this session as `id_token_hint`
 * the page submits itself (the response's nonce lets the one inline script run), otherwise one
 * button does.
 */
export function impersonationLogoutPage(options: { form: string; nonce: string | undefined; subject: string; clientName: string | undefined; submit: boolean }): string {
  const nonce = nonceAttribute(options.nonce);
  const app = options.clientName ? html`<strong>${options.clientName}</strong>` : 'the application';
  const subject = html`<strong>${options.subject}</strong>`;
  // oidc-provider's own logout form (its action and xsrf token), completed with the one button.
  const form = new Html(
    options.form.replace(/<\/form>\s*$/, '<input type="hidden" name="logout" value="yes"><button type="submit" autofocus>End impersonation</button></form>'),
  );
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ending the impersonation</title>
<style${nonce}>${STYLE}</style>
</head><body><main><div class="card" role="status">
<h1>${options.submit ? 'Ending the impersonation…' : 'End the impersonation?'}</h1>
<p>${options.submit ? html`Closing ${app} as ${subject} and ending the impersonation everywhere.` : html`${app} is open as ${subject} under an impersonation. Ending it signs this browser out of that account and ends the impersonation everywhere.`}</p>
${form}
${options.submit ? html`<script${nonce}>document.getElementById('op.logoutForm').submit();</script>` : ''}
</div></main></body></html>`.value;
}

/** The ` nonce="…"` attribute of an inline `<style>` or `<script>`, when the response has a nonce. */
function nonceAttribute(nonce: string | undefined): Html | '' {
  return nonce ? html` nonce="${nonce}"` : '';
}

/** oidc-provider 9's own confirmation, for hosts that set no `logoutSource`. */
function defaultLogoutSource(ctx: KoaContextWithOIDC, form: string): void {
  const attr = nonceAttribute(pageNonce(ctx));
  ctx.type = 'html';
  ctx.body = html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Logout Request</title><style${attr}>${STYLE}</style></head><body><main><div class="card">
<h1>Do you want to sign-out from ${ctx.host}?</h1>${new Html(form)}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button></div></main></body></html>`.value;
}

/**
 * Composes `features.rpInitiatedLogout.logoutSource`: an impersonated session gets
 * {@link impersonationLogoutPage}; every other session the host's page (or oidc-provider's).
 */
export function composeLogoutSource(features: Configuration['features']): Configuration['features'] {
  const hostLogout = features?.rpInitiatedLogout ?? {};
  const hostSource = (hostLogout as { logoutSource?: LogoutSource }).logoutSource ?? defaultLogoutSource;
  return {
    ...features,
    rpInitiatedLogout: {
      ...hostLogout,
      async logoutSource(ctx: KoaContextWithOIDC, form: string) {
        const session = impersonated(ctx);
        if (!session) return hostSource(ctx, form);
        ctx.type = 'html';
        ctx.body = impersonationLogoutPage({
          form,
          nonce: pageNonce(ctx),
          subject: session.accountId!,
          clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId,
          submit: hintedByItsClient(ctx, session.accountId!),
        });
      },
    },
  } as Configuration['features'];
}
