import { expect } from '@jest/globals';
import type { AuditEvent } from '../../src/audit/events.js';
import type { HttpResult, TestServer } from './server.js';

export interface ExpectedRefusal {
  status: number;
  error: string;
  description: string;
  rule: string;
}

/**
 * Runs one request and proves the refusal: exact status and body, `Cache-Control: no-store`,
 * no token saved or issued, exactly one audit record naming the rule.
 */
export async function expectRefusal(server: TestServer, request: () => Promise<HttpResult>, expected: ExpectedRefusal): Promise<{ result: HttpResult; record: AuditEvent }> {
  const mark = server.auditMark();
  const issuedBefore = server.issuedCount();
  const result = await request();
  expect({ status: result.status, body: result.body }).toEqual({
    status: expected.status,
    body: { error: expected.error, error_description: expected.description },
  });
  expect(result.headers.get('cache-control')).toBe('no-store');
  expect(server.issuedCount()).toBe(issuedBefore);
  const records = server.auditSince(mark);
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({ event: 'exchange.denied', outcome: expected.status >= 500 ? 'error' : 'denied', rule: expected.rule });
  return { result, record: records[0]! };
}
