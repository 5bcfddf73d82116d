import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { AccountDirectory } from '../../accounts.js';
import type { ApprovalService } from '../../approvals/service.js';
import type { AuditLog } from '../../audit/log.js';
import type { RequestFacts } from '../../audit/recorder.js';
import type { TicketService } from '../../browser/tickets.js';
import type { ImpersonationPolicy } from '../../config.js';
import type { ImpersonationRules } from '../../exchange/rules.js';
import type { ImpersonationLifecycle } from '../../lifecycle/service.js';
import type { Store } from '../../store/index.js';
import type { Route } from '../../web/app.js';
import type { Html } from '../../web/html.js';
import type { AdminAuthenticator, AdminCaller } from '../auth.js';

/** How the console signs support agents in, and which applications an impersonation may open. */
export interface AdminConsoleOptions {
  /** A confidential first-party client of this provider, allowed `impersonation:admin`; redirect URI `<issuer><basePath>/callback`. */
  readonly clientId: string;
  readonly clientSecret: string;
  /** Client ids offered in the "Impersonate" dialog (each needs the authorization-code flow). */
  readonly applications: readonly string[];
  /** Default `/admin` (the JSON admin API stays under `/admin/api`). */
  readonly basePath?: string;
  readonly product?: string;
}

/** What the console is built from (src/extension.ts passes it). */
export interface ConsoleDeps {
  readonly provider: Provider;
  readonly options: AdminConsoleOptions;
  readonly accounts: AccountDirectory;
  readonly lifecycle: ImpersonationLifecycle;
  readonly tickets: TicketService;
  readonly auditLog: AuditLog | undefined;
  readonly auth: AdminAuthenticator;
  readonly store: Store;
  readonly approvals: ApprovalService;
  readonly rules: ImpersonationRules;
  readonly policy: ImpersonationPolicy;
  readonly requestFacts: (ctx: Context) => RequestFacts;
}

/** An agent's console session, kept server-side (src/web/sessions.ts). */
export interface ConsoleSession {
  readonly sub: string;
  readonly name: string;
  readonly csrf: string;
  /** The agent's access token (with `impersonation:admin`): kept here, never sent to the browser. */
  readonly accessToken: string;
}

/** A signed-in request: the session (and its id) and the agent, read live through the admin authorization path. */
export interface ConsoleState {
  readonly id: string;
  readonly session: ConsoleSession;
  readonly caller: AdminCaller;
}

/** A page's content; `section` names the page-list entry highlighted in the navigation. */
export interface PageView {
  readonly title: string;
  readonly section: string;
  readonly body: Html;
}

/** What a form's answer says above the page. */
export type Notice = { readonly kind: 'ok' | 'error' | 'info'; readonly text: string };

/** The console as its pages see it: the deps, where it lives, and the skeleton's services. */
export interface ConsoleContext extends ConsoleDeps {
  readonly base: string;
  /** The issuer without a trailing slash. */
  readonly issuer: string;
  /** Sends a page in the console's frame (navigation, signed-in agent), with the console's CSP. */
  readonly render: (ctx: Context, session: ConsoleSession, page: PageView, status?: number) => Promise<void>;
  /** CSP `form-action` origins: where "Impersonate" may redirect (each application's login URI). */
  readonly formTargets: () => Promise<string[]>;
  /**
   * After the minting or approval rules refused (and audited) an attempt: whether the agent may
   * still use the console. If not, the session has ended and the refusal page is the answer.
   */
  readonly stillAllowed: (ctx: Context, state: ConsoleState) => Promise<boolean>;
}

/**
 * One entry of the console's page list (src/admin/console/pages.ts): its navigation entry, if it
 * has one (`<base>/<section>`), and its routes.
 */
export interface ConsolePage {
  readonly nav?: { readonly section: string; readonly label: string };
  readonly routes: (context: ConsoleContext) => readonly Route<ConsoleState>[];
}
