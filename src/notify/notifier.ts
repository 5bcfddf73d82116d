import type { Logger } from '../observability/logger.js';
import type { SubjectNotice } from './types.js';

/** Hands notices to `hooks.notifySubject`, off the request path. */
export interface SubjectNotifier {
  notify(notice: SubjectNotice): void;
}

/**
 * Calls the host's hook without waiting for it: a slow, failing or throwing hook never blocks or
 * fails an impersonation. Failures are logged with the notice type and subject only (no reason,
 * no link).
 */
export function createSubjectNotifier(hook: ((notice: SubjectNotice) => void | Promise<void>) | undefined, logger: Logger): SubjectNotifier {
  return {
    notify(notice) {
      if (!hook) return;
      Promise.resolve()
        .then(() => hook(notice))
        .catch((err: unknown) => {
          const { name, message } = err instanceof Error ? err : new Error(String(err));
          logger.warn({ err: { name, message }, notice: notice.type, subject: notice.subject }, 'notifySubject failed; the impersonation is unaffected');
        });
    },
  };
}
