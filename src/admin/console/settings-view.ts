import { html, type Html } from '../../web/html.js';
import type { Notice } from './context.js';
import { hidden, notice } from './views.js';

/** The switch's state, and the button that flips it (switching off asks first: the console's script). */
export function settingsView(base: string, csrf: string, enabled: boolean, n: Notice | undefined): Html {
  return html`<h1>Settings</h1>${notice(n)}
<div class="card stack"><h2>Impersonation</h2>
<p class="switch-state ${enabled ? 'on' : 'off'}">${enabled ? 'On: support agents with the impersonator role may impersonate.' : 'Off: nobody can impersonate; every attempt is refused.'}</p>
<p class="meta">Switching off ends every live impersonation at once, on every instance sharing the store.</p>
<form method="post" action="${base}/settings">${hidden(csrf, { enabled: enabled ? 'false' : 'true' })}<button type="submit" class="button ${enabled ? 'danger' : ''}" ${enabled ? html`data-confirm="Switch impersonation off and end every live impersonation?"` : ''}>${enabled ? 'Switch impersonation off' : 'Switch impersonation on'}</button></form>
</div>`;
}
