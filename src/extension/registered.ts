import type Provider from 'oidc-provider';
import type { AdminAuthenticator } from '../admin/auth.js';
import type { ApprovalService } from '../approvals/service.js';
import type { TicketService } from '../browser/tickets.js';
import type { IssuerKeys } from '../exchange/keys.js';
import type { ImpersonationRules } from '../exchange/rules.js';
import type { ImpersonationLifecycle } from '../lifecycle/service.js';
import type { HostFacts } from './configuration.js';

/** Every part of the extension that needs the provider, built once by `register(provider)`. */
export interface Registered {
  readonly provider: Provider;
  readonly host: HostFacts;
  readonly lifecycle: ImpersonationLifecycle;
  /** The keys of this provider and of the trusted issuers (subject and actor tokens). */
  readonly keys: IssuerKeys;
  /** The rules every impersonation passes, whichever way it starts. */
  readonly rules: ImpersonationRules;
  readonly approvals: ApprovalService;
  readonly tickets: TicketService;
  /** The one authorization path of the admin API and the support console (docs/admin-console.md). */
  readonly adminAuth: AdminAuthenticator;
}
