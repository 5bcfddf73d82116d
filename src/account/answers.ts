import type { Context } from 'koa';
import { ApprovalAnswerError } from '../approvals/service.js';
import { utc } from '../notify/notice.js';
import { sendPage, sendText } from '../web/app.js';
import { layout, type Html } from '../web/html.js';
import type { AccountContext, AccountState } from './context.js';
import { namesOf } from './history.js';
import { show } from './impersonations.js';
import { answeredLinkView, invalidLinkView, linkAnsweredView, linkView, notAnsweredView } from './requests-view.js';

/*
 * The subject answers support's requests for access (docs/admin-console.md, approvals): from their
 * signed-in page, or through the one-time link `hooks.notifySubject` delivered.
 */

/** A form that failed the session or CSRF check. */
export function expired(ctx: Context): void {
  sendText(ctx, 'This form has expired. Reload the page and try again.', 403);
}

/** The signed-in subject approves, declines or revokes one of their own requests. */
export async function approvalAction(c: AccountContext, ctx: Context, state: AccountState, form: URLSearchParams, action: 'answer' | 'revoke'): Promise<void> {
  const id = form.get('approval') ?? '';
  const facts = c.requestFacts(ctx);
  const subject = state.data.sub;
  try {
    if (action === 'revoke') {
      const ended = await c.approvals.revoke(id, subject, facts);
      return show(c, ctx, state, { kind: 'ok', text: `Revoked: it can no longer be used${ended ? `, and ${ended === 1 ? 'the access it opened has' : `the ${ended} accesses it opened have`} ended` : ''}.` });
    }
    const decision = form.get('decision') === 'approve' ? 'approve' : 'decline';
    const answered = await c.approvals.answer(id, subject, decision, 'page', facts);
    return show(c, ctx, state, {
      kind: 'ok',
      text: decision === 'approve' ? `Approved until ${utc(answered.approved_until!)}. You can revoke it here at any time.` : 'Declined: support cannot use this request.',
    });
  } catch (err) {
    if (!(err instanceof ApprovalAnswerError)) throw err;
    ctx.status = err.status;
    return show(c, ctx, state, { kind: 'error', text: err.message });
  }
}

/** A state change without a session: only from this site (Origin / Sec-Fetch-Site), the link being the secret. */
function sameSite(ctx: Context, ownOrigin: string): boolean {
  const site = ctx.get('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return false;
  const origin = ctx.get('origin');
  return !origin || origin === 'null' || origin === ownOrigin;
}

function linkPage(c: Pick<AccountContext, 'product' | 'assetsPath'>, ctx: Context, status: number, body: Html): void {
  sendPage(ctx, layout({ title: 'Support access request', product: c.product, assetsPath: c.assetsPath, body }), { status });
}

/**
 * The one-time link delivered by `hooks.notifySubject`: showing it changes nothing (mail scanners
 * open links); the subject answers with a button, which spends the link.
 */
export async function linkShow(c: AccountContext, ctx: Context): Promise<void> {
  const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
  const record = await c.approvals.fromLink(token);
  if (!record) return linkPage(c, ctx, 404, invalidLinkView(c.base));
  const view = await c.approvals.view(record);
  if (view.state !== 'pending') return linkPage(c, ctx, 409, answeredLinkView(c.base, view.state));
  const names = await namesOf(c.accounts, [record.actor]);
  return linkPage(c, ctx, 200, linkView(c.base, token, view, names));
}

/** The answer posted from the link's page. */
export async function linkAnswer(c: AccountContext, ctx: Context, form: URLSearchParams): Promise<void> {
  if (!sameSite(ctx, c.ownOrigin)) return expired(ctx);
  const decision = form.get('decision') === 'approve' ? 'approve' : 'decline';
  try {
    const answered = await c.approvals.answerByLink(form.get('token') ?? '', decision, c.requestFacts(ctx));
    return linkPage(c, ctx, 200, linkAnsweredView(c.base, decision, answered));
  } catch (err) {
    if (!(err instanceof ApprovalAnswerError)) throw err;
    return linkPage(c, ctx, err.status, notAnsweredView(err.message));
  }
}
