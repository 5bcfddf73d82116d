import type { Context } from 'koa';
import type { AccountDirectory } from '../accounts.js';
import type { ApprovalService } from '../approvals/service.js';
import type { RequestFacts } from '../audit/recorder.js';
import type { DelegationService } from '../delegations/service.js';
import type { ImpersonationLifecycle } from '../lifecycle/service.js';
import type { Store } from '../store/index.js';
import type { DelegationSection } from './delegations.js';

/** How the subject's page signs its user in: a confidential first-party client of this provider. */
export interface AccountPageOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Default `/account`; the page is `<basePath>/impersonations`, the redirect URI `<basePath>/callback`. */
  readonly basePath?: string;
  /** Shown in the header bar. */
  readonly product?: string;
}

/** What the account page is built from (src/extension.ts passes it). */
export interface AccountDeps {
  readonly issuer: string;
  readonly options: AccountPageOptions;
  readonly lifecycle: ImpersonationLifecycle;
  readonly approvals: ApprovalService;
  /** Delegations to agents (docs/beyond-impersonation.md), when the extension offers them. */
  readonly delegations?: DelegationService | undefined;
  readonly accounts: AccountDirectory;
  readonly store: Store;
  readonly requestFacts: (ctx: Context) => RequestFacts;
  /** A client's display name (`client_name`), or undefined to show its id. */
  readonly clientName?: (clientId: string) => Promise<string | undefined>;
}

/** The subject's session, kept server-side (src/web/sessions.ts). */
export interface AccountSession {
  readonly sub: string;
  readonly name: string;
  readonly csrf: string;
}

/** A signed-in request: the session and its id. */
export interface AccountState {
  readonly id: string;
  readonly data: AccountSession;
}

/** What a form's answer says above the page. */
export type Notice = { kind: 'ok' | 'error'; text: string };

/** The account page as its handlers see it: the deps, and where it lives. */
export interface AccountContext extends AccountDeps {
  readonly base: string;
  readonly product: string;
  readonly assetsPath: string;
  /** This site's origin: a form posted from anywhere else is refused. */
  readonly ownOrigin: string;
  /** The delegation forms (docs/beyond-impersonation.md), when the extension offers delegations. */
  readonly assistants: DelegationSection | undefined;
}
