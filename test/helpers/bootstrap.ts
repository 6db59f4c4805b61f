// Assertions shared by the bootstrap failure tests: the problem answer, and what the failure left in
// the database (the instance row and its last event).
import type { LightMyRequestResponse } from 'fastify';
import type { Test } from 'tap';
import type { App } from '../../src/app.js';
import { listInstanceEvents } from '../../src/db/instances.repo.js';
import { normalizeInstanceUrl } from '../../src/services/instance-url.js';
import { readRows } from './rows.js';

export interface ExpectedProblem {
  status: number;
  code: string;
  /** The failed bootstrap step; omitted means the problem must carry no `step`. */
  step?: string;
}

/** Asserts an application/problem+json answer with exactly this status, code and step; returns its body. */
export function expectProblem(t: Test, response: LightMyRequestResponse, expected: ExpectedProblem): Record<string, unknown> {
  t.equal(response.statusCode, expected.status, `HTTP ${String(expected.status)}: ${response.body}`);
  t.match(response.headers['content-type'], /^application\/problem\+json/, 'a problem document');
  const body = response.json<Record<string, unknown>>();
  t.equal(body.code, expected.code, 'problem code');
  t.equal(body.status, expected.status, 'problem status');
  t.equal(body.type, `urn:gitlab-connect:problem:${expected.code}`, 'problem type');
  t.equal(body.step, expected.step, expected.step ? `failed in step ${expected.step}` : 'no step: nothing was started');
  return body;
}

/** The instance row at `url` (normalized as the service stores it), or undefined. */
export async function instanceRow(app: App, url: string) {
  return (await readRows(app.deps.db, 'instances', { url: normalizeInstanceUrl(url) })).at(0);
}

/**
 * Asserts the instance is left with `status` (default failed), the step and code of the failure, no
 * lease, and that its latest event is that failure.
 */
export async function expectRecordedFailure(t: Test, app: App, url: string, expected: { step: string; code: string; status?: string }) {
  const row = await instanceRow(app, url);
  if (!row) throw new Error(`no instance row for ${url}`);
  t.match(
    row,
    { status: expected.status ?? 'failed', lastErrorStep: expected.step, lastErrorCode: expected.code, bootstrapLeaseUntil: null },
    `instance ${expected.status ?? 'failed'} at ${expected.step} with ${expected.code}`,
  );
  const last = (await listInstanceEvents(app.deps.db, row.id)).at(-1);
  t.match(last, { step: expected.step, outcome: 'failed', errorCode: expected.code }, 'the failure is the latest event');
  return row;
}

/** Asserts that no instance row exists: the call was refused before any set-up began. */
export async function expectNoInstance(t: Test, app: App, url: string) {
  t.equal(await instanceRow(app, url), undefined, 'no instance row was written');
}
