// The upkeep keeps instances working with nobody calling (issue 12): the bot token rotated in time (on
// GitLab 16.3, whose rotated tokens live 7 days, over weeks), a bot deactivated on GitLab found by the next
// run (degraded) and its re-activation (ready), each an event by `upkeep`; the sweep deletes exactly the
// expired and abandoned rows, and marks the runs a killed process left running abandoned. Runs on the embedded PGlite and on PostgreSQL (TEST_DATABASE_URL); the
// tests of two processes on one database are in child-processes/upkeep-replicas.test.ts (PostgreSQL only).
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { App } from '../../src/app.js';
import { DAY_MS } from '../../src/time.js';
import { buildTestApp } from '../helpers/app.js';
import { acceptedByGitlab, bootstrappedInstance, INTERNAL_AUTH as auth } from '../helpers/gitlab.js';
import { insertRows, readRow, readRows } from '../helpers/rows.js';
import { sweepNow, UPKEEP_ENV, upkeepRuns } from '../helpers/upkeep.js';

async function servedToken(app: App, instanceId: string): Promise<{ token: string; expiresAt: Date | null }> {
  const row = await readRow(app.deps.db, 'instances', { id: instanceId });
  return { token: app.deps.sealer.open(row.botTokenSealed!, 'bot_token'), expiresAt: row.botTokenExpiresAt };
}

async function upkeepEvents(app: App, instanceId: string) {
  const events: { step: string; outcome: string; actor: string; errorCode: string | null; detail: string | null }[] = (await app.inject({ method: 'GET', url: `/internal/instances/${instanceId}/events`, headers: auth })).json().events;
  return events.filter((event) => event.actor === 'upkeep');
}

t.test('GitLab 16.3 (rotated tokens live 7 days): with no caller the upkeep rotates the bot token in time and keeps it alive over four simulated weeks', async (t) => {
  const { app, fake, clock, instance } = await bootstrappedInstance(t, { version: '16.3.0' }, UPKEEP_ENV);
  const id: string = instance.instanceId;
  const row = await readRow(app.deps.db, 'instances', { id });
  // Two days before the first of the two tokens would expire: well past its rotation time, nobody asked.
  clock.now = new Date(Math.min(row.botTokenExpiresAt!.getTime(), row.botStandbyTokenExpiresAt!.getTime()) - 2 * DAY_MS);
  const first = await sweepNow(app, id);
  t.match(first, { outcome: 'succeeded', counts: { botToken: 'rotated', check: 'ok' } }, 'rotated by the upkeep');
  t.equal(fake.counters.personalAccessTokensRotated, 1);
  const rotated = await servedToken(app, id);
  t.equal(Math.round((rotated.expiresAt!.getTime() - clock.now.getTime()) / DAY_MS), 7, 'GitLab 16.3 granted the rotated token 7 days');

  const rotations = [];
  for (let day = 2; day <= 28; day += 2) {
    clock.now = new Date(clock.now.getTime() + 2 * DAY_MS);
    const run = await sweepNow(app, id);
    t.equal(run.outcome, 'succeeded', `day ${String(day)}: the run succeeded ${run.error ?? ''}`);
    rotations.push(run.counts.botToken);
    const served = await servedToken(app, id);
    t.ok(await acceptedByGitlab(fake, served.token), `day ${String(day)}: GitLab accepts the served token`);
  }
  t.ok(rotations.filter((outcome) => outcome === 'rotated').length >= 6, `rotated at least every 4 days: ${rotations.join(', ')}`);
  t.equal(fake.liveTokensOf(instance.bot.userId).length, 2, 'the bot keeps its two live tokens');
  const events = await upkeepEvents(app, id);
  t.ok(events.length >= 7 && events.every((event) => event.step === 'bot_token_rotate' && event.outcome === 'succeeded'), 'each rotation an event by upkeep; no check event while nothing changed');
  const details = (await app.inject({ method: 'GET', url: `/internal/instances/${id}`, headers: auth })).json();
  t.ok(new Date(details.botTokenRotatesAt as string).getTime() < new Date(details.botTokenExpiresAt as string).getTime() - 3 * DAY_MS, 'the next rotation is shown, at least 3 days before the expiry');
});

t.test('a bot deactivated on GitLab makes the instance degraded at the next run; re-activated, ready again at the one after; both are events by upkeep', async (t) => {
  const { app, fake, clock, instance } = await bootstrappedInstance(t, {}, UPKEEP_ENV);
  const id: string = instance.instanceId;
  const details = async () => (await app.inject({ method: 'GET', url: `/internal/instances/${id}`, headers: auth })).json();
  t.match(await sweepNow(app, id), { outcome: 'succeeded', counts: { botToken: 'not_due', check: 'ok' } });
  t.same(await upkeepEvents(app, id), [], 'nothing changed: no event');

  fake.setUserState(instance.bot.userId as number, 'deactivated');
  clock.now = new Date(clock.now.getTime() + 60_000);
  t.match(await sweepNow(app, id), { counts: { check: 'bot_account_unusable' } });
  const degraded = await details();
  t.match(degraded, { status: 'degraded', problem: { code: 'bot_account_unusable', title: /deactivated/ }, health: { checkedAt: clock.now.toISOString(), problems: [{ code: 'bot_account_unusable' }] } });
  t.ok(degraded.health.nextCheckAt, 'the next check is shown');

  fake.setUserState(instance.bot.userId as number, 'active');
  clock.now = new Date(clock.now.getTime() + 60_000);
  t.match(await sweepNow(app, id), { counts: { check: 'ok' } });
  t.match(await details(), { status: 'ready', problem: null, health: { problems: [] } });
  t.same(
    (await upkeepEvents(app, id)).map((event) => [event.step, event.outcome, event.errorCode, /\((now degraded|ready again)\)/.exec(event.detail ?? '')?.[1]]),
    [['check', 'failed', 'bot_account_unusable', 'now degraded'], ['check', 'succeeded', null, 'ready again']],
    'two events by upkeep: degraded, then ready',
  );
});

t.test('the sweep deletes exactly the expired login states, dead sessions, old rate-limit windows and abandoned instances (with their events), nothing else', async (t) => {
  // A database of its own: the sweep's counts cover the whole database.
  const clock = { now: new Date() };
  const { app } = await buildTestApp(t, UPKEEP_ENV, { clock: () => clock.now, ownDatabase: true });
  const { db } = app.deps;
  const ago = (ms: number) => new Date(clock.now.getTime() - ms);
  const instance = async (url: string, values: { status: 'failed' | 'ready'; botUserId?: string; updatedAt: Date }) =>
    (await insertRows(db, 'instances', { url, ...values }))[0].id;
  const abandoned = await instance('https://abandoned.example', { status: 'failed', updatedAt: ago(31 * DAY_MS) });
  const recent = await instance('https://recent.example', { status: 'failed', updatedAt: ago(29 * DAY_MS) });
  const holder = await instance('https://holder.example', { status: 'failed', botUserId: '42', updatedAt: ago(90 * DAY_MS) });
  await insertRows(db, 'instanceEvents', [abandoned, holder].map((instanceId) => ({ instanceId, step: 'token', actor: 'test', outcome: 'failed' as const })));
  const user = (await insertRows(db, 'users', { instanceId: holder, gitlabUserId: '7', username: 'alice', name: 'Alice' }))[0].id;
  const session = (hash: string, expiresAt: Date, revokedAt: Date | null = null) => ({ tokenHash: hash, userId: user, instanceId: holder, expiresAt, revokedAt, createdAt: ago(DAY_MS) });
  await insertRows(db, 'sessions', [session('live', ago(-DAY_MS)), session('expired', ago(1000)), session('revoked', ago(-DAY_MS), ago(60_000))]);
  const state = (hash: string, expiresAt: Date) => ({ stateHash: hash, instanceId: holder, browserBindingHash: hash, codeVerifierSealed: 'x', expiresAt, createdAt: ago(DAY_MS) });
  await insertRows(db, 'loginStates', [state('live', ago(-60_000)), state('expired', ago(1000))]);
  await insertRows(db, 'rateLimitWindows', [{ key: 'old', windowStart: ago(2 * 3_600_000) }, { key: 'recent', windowStart: ago(60_000) }]);
  const count = async () => ({
    instances: (await readRows(db, 'instances', {}, 'url')).map((row) => row.url).filter((url) => url.endsWith('.example')),
    events: (await readRows(db, 'instanceEvents', {}, 'id')).map((row) => row.instanceId).filter((instanceId) => [abandoned, recent, holder].includes(instanceId)),
    sessions: (await readRows(db, 'sessions', {}, 'tokenHash')).map((row) => row.tokenHash),
    loginStates: (await readRows(db, 'loginStates', {}, 'stateHash')).map((row) => row.stateHash),
    rateLimitWindows: (await readRows(db, 'rateLimitWindows', {}, 'key')).map((row) => row.key).filter((key) => ['old', 'recent'].includes(key)),
  });
  const before = await count();
  t.same(before, {
    instances: ['https://abandoned.example', 'https://holder.example', 'https://recent.example'],
    events: [abandoned, holder],
    sessions: ['expired', 'live', 'revoked'],
    loginStates: ['expired', 'live'],
    rateLimitWindows: ['old', 'recent'],
  }, 'the rows before');
  const sweep = await sweepNow(app);
  t.match(sweep, { outcome: 'succeeded', counts: { loginStatesDeleted: 1, sessionsDeleted: 2, rateLimitWindowsDeleted: 1, abandonedInstancesDeleted: 1 } });
  t.same(await count(), {
    instances: ['https://holder.example', 'https://recent.example'],
    events: [holder],
    sessions: ['live'],
    loginStates: ['live'],
    rateLimitWindows: ['recent'],
  }, 'exactly the expired and abandoned rows are gone');
});

t.test('the sweep marks runs still running after UPKEEP_JOB_TIMEOUT_SECONDS abandoned (their process died); younger and finished runs stay as they are', async (t) => {
  const clock = { now: new Date() };
  // A database of its own: the sweep's count covers the whole database.
  const { app } = await buildTestApp(t, { ...UPKEEP_ENV, UPKEEP_JOB_TIMEOUT_SECONDS: '300' }, { clock: () => clock.now, ownDatabase: true });
  const secondsAgo = (seconds: number) => new Date(clock.now.getTime() - seconds * 1000);
  const run = async (startedAt: Date, end: { finishedAt: Date; outcome: string } | Record<string, never> = {}) =>
    String((await insertRows(app.deps.db, 'upkeepRuns', { job: 'instance', instanceId: randomUUID(), startedAt, ...end }))[0].id);
  const killed = await run(secondsAgo(301));
  const young = await run(secondsAgo(299));
  const failed = await run(secondsAgo(3600), { finishedAt: secondsAgo(3590), outcome: 'failed' });

  t.match(await sweepNow(app), { outcome: 'succeeded', counts: { upkeepRunsAbandoned: 1 } }, 'the sweep counts the one run it marked');
  const runs = new Map((await upkeepRuns(app)).map((shown) => [shown.id, shown]));
  t.match(runs.get(killed), { outcome: 'abandoned', finishedAt: clock.now.toISOString(), error: /UPKEEP_JOB_TIMEOUT_SECONDS \(300 s\)/ }, 'GET /internal/upkeep/runs shows it abandoned, ended by the sweep');
  t.match(runs.get(young), { outcome: 'running', finishedAt: null }, 'a run younger than the job timeout may still be working');
  t.match(runs.get(failed), { outcome: 'failed', finishedAt: secondsAgo(3590).toISOString() }, 'a finished run keeps its outcome');
});

t.test('a process with UPKEEP_ENABLED=false answers a sweep request 409 upkeep_disabled, naming UPKEEP_ENABLED=true', async (t) => {
  const { app } = await buildTestApp(t, { UPKEEP_ENABLED: 'false' });
  const response = await app.inject({ method: 'POST', url: '/internal/upkeep/sweep', headers: auth });
  t.equal(response.statusCode, 409);
  t.match(response.json(), { code: 'upkeep_disabled', detail: /runs no upkeep.*set UPKEEP_ENABLED=true and restart it/ });
});
