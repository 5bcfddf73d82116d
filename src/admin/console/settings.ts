import type { Context } from 'koa';
import type { ConsoleContext, ConsolePage, ConsoleState, Notice } from './context.js';
import { settingsView } from './settings-view.js';

/* docs/admin-console.md: the global switch, which ends every live impersonation when turned off. */

type SettingsDeps = Pick<ConsoleContext, 'base' | 'lifecycle' | 'render' | 'requestFacts'>;

async function settingsPage(c: SettingsDeps, ctx: Context, state: ConsoleState, n?: Notice): Promise<void> {
  const enabled = await c.lifecycle.isEnabled();
  await c.render(ctx, state.session, { title: 'Settings', section: 'settings', body: settingsView(c.base, state.session.csrf, enabled, n) });
}

async function setEnabled(c: SettingsDeps, ctx: Context, state: ConsoleState, form: URLSearchParams): Promise<void> {
  const enabled = form.get('enabled') === 'true';
  const ended = await c.lifecycle.setEnabled(enabled, { actor: state.caller.accountId, request: c.requestFacts(ctx) });
  return settingsPage(c, ctx, state, { kind: 'ok', text: enabled ? 'Impersonation is on.' : `Impersonation is off; ${ended} live impersonations ended.` });
}

/** Settings: the global switch. */
export const settings: ConsolePage = {
  nav: { section: 'settings', label: 'Settings' },
  routes: (c) => [
    { method: 'GET', path: '/settings', handler: (ctx, { state }) => settingsPage(c, ctx, state) },
    { method: 'POST', path: '/settings', handler: (ctx, { state, form }) => setEnabled(c, ctx, state, form) },
  ],
};
