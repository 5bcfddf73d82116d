import { approvals } from './approvals.js';
import { audit } from './audit.js';
import type { ConsolePage } from './context.js';
import { impersonations } from './impersonations.js';
import { settings } from './settings.js';
import { users } from './users.js';

/**
 * The console's pages, in the order of the navigation: each contributes its routes, and those with
 * a `nav` entry a link in the top bar. Adding a page is a module exporting a `ConsolePage` and one
 * line here (docs/architecture.md).
 */
export const PAGES: readonly ConsolePage[] = [
  users,
  impersonations,
  audit,
  settings,
  approvals,
];
