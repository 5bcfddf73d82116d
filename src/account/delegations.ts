import type { Context } from 'koa';
import type { RequestFacts } from '../audit/recorder.js';
import { profileLabel } from '../claims/profiles.js';
import { DelegationError, type DelegationService, type DelegationView } from '../delegations/service.js';
import { html, type Html } from '../web/html.js';
import { when } from './activity.js';

/*
 * The user's side of delegation to agents on their account page (docs/beyond-impersonation.md
 * "Delegation to agents"): answer an agent's request (scopes, read-only by default; a duration),
 * and see, pause, resume or end what they granted. CSRF-protected forms, like the rest of the page.
 */

type Notice = { kind: 'ok' | 'error'; text: string };

/** The durations offered, up to the policy's maximum. */
function durations(max: number, preferred: number): Array<{ seconds: number; label: string; selected: boolean }> {
  const options = [15 * 60, 30 * 60, 60 * 60].filter((s) => s <= max);
  if (!options.includes(max) && max < 60 * 60) options.push(max);
  const chosen = options.includes(preferred) ? preferred : options.at(-1)!;
  return options.map((seconds) => ({ seconds, label: `${Math.round(seconds / 60)} minutes`, selected: seconds === chosen }));
}

/** Renders and answers the delegation forms of the account page. */
export function createDelegationSection(deps: { delegations: DelegationService; base: string; requestFacts: (ctx: Context) => RequestFacts }) {
  const { base } = deps;

  function who(d: DelegationView): Html {
    return html`<strong>${d.agent_name ?? d.agent}</strong> <span class="badge">${profileLabel(d.agent_profile)}</span>`;
  }

  function hidden(csrf: string, id: string): Html {
    return html`<input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="delegation" value="${id}">`;
  }

  function action(csrf: string, d: DelegationView, path: string, label: string, style: string): Html {
    return html`<form method="post" action="${base}/delegations/${path}">${hidden(csrf, d.id)}<button type="submit" class="button ${style}">${label}</button></form>`;
  }

  /** The section, or nothing when no agent ever asked. */
  function render(csrf: string, list: readonly DelegationView[]): Html {
    if (!list.length) return html``;
    const max = deps.delegations.maxDuration();
    const pending = list.filter((d) => d.state === 'pending');
    const standing = list.filter((d) => d.state === 'active' || d.state === 'paused');
    const past = list.filter((d) => !pending.includes(d) && !standing.includes(d)).slice(0, 10);
    const requests = pending.map(
      (d) => html`<li class="card request" data-delegation="${d.id}">
<p>${who(d)} asks to act for you${d.reason ? html`: ${d.reason}` : ''}.</p>
<form method="post" action="${base}/delegations/grant" class="stack">${hidden(csrf, d.id)}
<div role="group" aria-labelledby="may-${d.id}"><p class="meta" id="may-${d.id}">What it may do</p>${d.scope.split(' ').map((s) => html`<label class="check"><input type="checkbox" name="scope" value="${s}" checked> <span class="mono">${s}</span></label> `)}
<label class="check"><input type="checkbox" name="read_only" value="on" checked> Read-only: it cannot change anything</label></div>
<label>For how long <select name="duration">${durations(max, d.duration_seconds).map((o) => html`<option value="${String(o.seconds)}"${o.selected ? html` selected` : ''}>${o.label}</option>`)}</select></label>
<div class="row"><button type="submit" class="button">Allow</button><button type="submit" class="button secondary" formaction="${base}/delegations/decline">Decline</button></div></form>
</li>`,
    );
    const granted = standing.map(
      (d) => html`<li class="card request" data-delegation="${d.id}">
<p>${who(d)} ${d.state === 'paused' ? 'is paused' : 'may act for you'} — <span class="mono">${d.scope}</span> — until ${when(d.until!)}.</p>
<div class="row">${d.state === 'active' ? action(csrf, d, 'pause', 'Pause', 'secondary small') : action(csrf, d, 'resume', 'Resume', 'secondary small')}${action(csrf, d, 'end', 'End', 'danger small')}</div>
</li>`,
    );
    const history = past.length
      ? html`<details><summary>Earlier</summary><ul class="plain">${past.map((d) => html`<li><span class="badge ended">${d.state}</span> ${d.agent_name ?? d.agent}: <span class="mono">${d.scope}</span> <span class="meta">(${when(d.requested_at)})</span></li>`)}</ul></details>`
      : '';
    return html`<section aria-labelledby="assistants-heading"><h2 id="assistants-heading">Assistants acting for you</h2>
<p class="meta">An AI assistant or app acts for you only with your consent, only for what you allow, and until you end it.</p>
${requests.length ? html`<ul class="plain stack">${requests}</ul>` : ''}
${granted.length ? html`<ul class="plain stack">${granted}</ul>` : ''}
${history}</section>`;
  }

  /** Answers a posted form; the caller checked the session and CSRF token. */
  async function answer(ctx: Context, subject: string, path: string, form: URLSearchParams): Promise<Notice> {
    const id = form.get('delegation') ?? '';
    const facts = deps.requestFacts(ctx);
    try {
      if (path === 'grant') {
        const duration = Number(form.get('duration') ?? '');
        const d = await deps.delegations.grant(id, subject, { scopes: form.getAll('scope'), durationSeconds: Number.isFinite(duration) && duration > 0 ? duration : undefined, readOnly: form.get('read_only') === 'on' }, facts);
        return { kind: 'ok', text: `Allowed: ${d.agent_name ?? d.agent} may act for you (${d.scope}) until ${d.until!.slice(11, 16)} UTC. You can pause or end it here.` };
      }
      if (path === 'decline') {
        const d = await deps.delegations.decline(id, subject, facts);
        return { kind: 'ok', text: `Declined: ${d.agent_name ?? d.agent} cannot act for you.` };
      }
      if (path === 'pause') {
        const d = await deps.delegations.pause(id, subject, facts);
        return { kind: 'ok', text: `Paused: ${d.agent_name ?? d.agent} cannot act for you until you resume it.` };
      }
      if (path === 'resume') {
        const d = await deps.delegations.resume(id, subject, facts);
        return { kind: 'ok', text: `Resumed: ${d.agent_name ?? d.agent} may act for you again.` };
      }
      const d = await deps.delegations.end(id, subject, facts);
      return { kind: 'ok', text: `Ended: ${d.agent_name ?? d.agent} can no longer act for you.` };
    } catch (err) {
      if (!(err instanceof DelegationError)) throw err;
      ctx.status = err.status;
      return { kind: 'error', text: `${err.description.charAt(0).toUpperCase()}${err.description.slice(1)}.` };
    }
  }

  return { render, answer, paths: ['grant', 'decline', 'pause', 'resume', 'end'] as const };
}

/** The delegation forms of the account page. */
export type DelegationSection = ReturnType<typeof createDelegationSection>;
