// Webhook intake (issue 16), measured, never asserted: GitLab's deliveries accepted and stored per second
// (autocannon, 1 KB and 100 KB JSON bodies, each request its own Idempotency-Key so that each is stored),
// the 2xx answers checked against the rows stored; and the delay from a delivery to a feed reader already
// long-polling for it, in the process that receives the delivery and in another one (woken by NOTIFY).
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashSecret } from '../src/crypto/tokens.js';
import { formatThroughput, measureThroughput, type ThroughputOptions, type ThroughputResult } from './http-throughput.js';
import { BENCH_INTERNAL_TOKEN } from './login-roundtrip.js';
import { cpuMsOf, type BenchDatabase, type RunningService } from './service.js';

export const WEBHOOK_BODY_BYTES = [1024, 100 * 1024];
/** Sequential deliveries per delay measurement. */
const DELAY_SAMPLES = 100;
/** Time given to a reader's request to reach its wait before the delivery is sent (a few ms on loopback; room for a busy machine). */
const READER_SETTLE_MS = 50;
const WAIT_SECONDS = 30;

interface BenchInstallation {
  id: string;
  token: string;
}

/** An installation of the seeded instance at `instanceUrl`, stored as the install route stores it (the hook token's sha256 only). */
async function createInstallation(database: BenchDatabase, instanceUrl: string, projectId: number): Promise<BenchInstallation> {
  const token = randomBytes(32).toString('base64url');
  const { rows } = await database.query(
    'insert into installations (instance_id, project_id, path_with_namespace, hook_token_hash) select id, $1, $2, $3 from instances where url = $4 returning id',
    [projectId, `bench/webhooks-${String(projectId)}`, hashSecret(token), instanceUrl],
  );
  if (rows.length !== 1) throw new Error(`no seeded instance ${instanceUrl} to install on`);
  return { id: (rows[0] as { id: string }).id, token };
}

async function storedRows(database: BenchDatabase, installation: BenchInstallation): Promise<number> {
  const { rows } = await database.query('select count(*)::int as count from webhook_events where installation_id = $1', [installation.id]);
  return (rows[0] as { count: number }).count;
}

/** GitLab's delivery headers for `installation` (a merge request event) with `key` as its Idempotency-Key. */
function deliveryHeaders(installation: BenchInstallation, key: string): Record<string, string> {
  return { 'content-type': 'application/json', 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': installation.token, 'idempotency-key': key };
}

/** A merge request event's JSON padded to exactly `bytes` bytes. */
function eventBody(bytes: number): string {
  const head = '{"object_kind":"merge_request","object_attributes":{"iid":1,"description":"';
  const tail = '"}}';
  return `${head}${'x'.repeat(bytes - head.length - tail.length)}${tail}`;
}

const sizeName = (bytes: number) => `${String(bytes / 1024)} KB`;

export interface IntakeRun {
  bytes: number;
  result: ThroughputResult;
  /** Rows the run left in webhook_events (its installation's). */
  stored: number;
  /** The serving process's CPU time per answered request (µs). */
  cpuMicrosPerRequest: number;
}

/** Drives POST /webhooks/gitlab/:id of `installation` with `bytes`-byte bodies, a new Idempotency-Key per request. */
function driveIntake(service: RunningService, installation: BenchInstallation, bytes: number, options: ThroughputOptions): Promise<ThroughputResult> {
  return measureThroughput(service.baseUrl, `webhook ${sizeName(bytes)}`, `/webhooks/gitlab/${installation.id}`, {
    ...options,
    method: 'POST',
    headers: deliveryHeaders(installation, '[<id>]'),
    body: eventBody(bytes),
    idReplacement: true,
  });
}

/**
 * One body size on installations of its own: a one-second probe (also this size's warm-up, unreported)
 * sets the measured run's number of requests to about `durationSeconds`' worth. A run of a fixed number
 * ends once every request is answered, so the rows stored must equal the 2xx answers exactly (a run cut
 * at a time would leave deliveries stored whose answers it never read).
 */
async function measureIntake(service: RunningService, database: BenchDatabase, instanceUrl: string, bytes: number, options: ThroughputOptions): Promise<IntakeRun> {
  const probe = await driveIntake(service, await createInstallation(database, instanceUrl, 2 * bytes), bytes, { ...options, durationSeconds: 1 });
  const perConnection = Math.max(1, Math.round((probe.requestsPerSecond * options.durationSeconds) / options.connections));
  const installation = await createInstallation(database, instanceUrl, 2 * bytes + 1);
  const cpuBefore = cpuMsOf(service.pid);
  const result = await driveIntake(service, installation, bytes, { ...options, amount: perConnection * options.connections });
  const cpuMicrosPerRequest = ((cpuMsOf(service.pid) - cpuBefore) * 1000) / result.total;
  return { bytes, result, stored: await storedRows(database, installation), cpuMicrosPerRequest };
}

interface FeedAnswer {
  events: unknown[];
  nextCursor: string | null;
}

/** One GET /internal/webhook-events on `service` after `after`, waiting up to `waitSeconds`. */
async function readFeed(service: RunningService, after: string | null, waitSeconds: number): Promise<FeedAnswer> {
  const query = new URLSearchParams({ limit: '100', waitSeconds: String(waitSeconds), ...(after === null ? {} : { after }) });
  const response = await fetch(`${service.baseUrl}/internal/webhook-events?${query.toString()}`, { headers: { authorization: `Bearer ${BENCH_INTERNAL_TOKEN}` } });
  if (response.status !== 200) throw new Error(`the feed answered ${String(response.status)}: ${await response.text()}`);
  return (await response.json()) as FeedAnswer;
}

/** The cursor after the last stored event (the feed read to its end). */
async function feedEnd(service: RunningService): Promise<string | null> {
  let cursor: string | null = null;
  for (;;) {
    const page = await readFeed(service, cursor, 0);
    if (page.events.length === 0) return cursor;
    cursor = page.nextCursor;
  }
}

export interface DelayFigures {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The `p`th percentile (0–100) of `values`, nearest rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * `DELAY_SAMPLES` times, one after another: a reader long-polls `reader`'s feed after the last event,
 * one delivery is posted to `receiver`, and the time from sending it to the reader's answer is taken.
 */
async function measureDelay(reader: RunningService, receiver: RunningService, installation: BenchInstallation): Promise<DelayFigures> {
  let cursor = await feedEnd(reader);
  const delays: number[] = [];
  for (let sample = 0; sample < DELAY_SAMPLES; sample++) {
    const waiting = readFeed(reader, cursor, WAIT_SECONDS);
    await sleep(READER_SETTLE_MS);
    const sentAt = performance.now();
    const delivery = fetch(`${receiver.baseUrl}/webhooks/gitlab/${installation.id}`, { method: 'POST', headers: deliveryHeaders(installation, randomUUID()), body: eventBody(1024) });
    const answer = await waiting;
    delays.push(performance.now() - sentAt);
    const response = await delivery;
    if (response.status !== 200) throw new Error(`the delivery answered ${String(response.status)}: ${await response.text()}`);
    await response.arrayBuffer();
    if (answer.events.length !== 1) throw new Error(`the waiting reader got ${String(answer.events.length)} events, expected the one delivery`);
    cursor = answer.nextCursor;
  }
  return { samples: delays.length, p50Ms: percentile(delays, 50), p99Ms: percentile(delays, 99), maxMs: Math.max(...delays) };
}

export interface WebhookFigures {
  sameProcess: DelayFigures;
  otherProcess: DelayFigures;
  intake: IntakeRun[];
}

/**
 * The delivery-to-reader delays first (on a feed with few events), the reader on `receiver` itself,
 * then on `other` (a second process on the same database: woken by PostgreSQL NOTIFY); then the intake
 * on `receiver` at `options.connections`, one run per body size.
 */
export async function measureWebhooks(receiver: RunningService, other: RunningService, database: BenchDatabase, instanceUrl: string, options: ThroughputOptions): Promise<WebhookFigures> {
  const delayInstallation = await createInstallation(database, instanceUrl, 1);
  const sameProcess = await measureDelay(receiver, receiver, delayInstallation);
  const otherProcess = await measureDelay(other, receiver, delayInstallation);
  const intake: IntakeRun[] = [];
  for (const bytes of WEBHOOK_BODY_BYTES) intake.push(await measureIntake(receiver, database, instanceUrl, bytes, options));
  return { sameProcess, otherProcess, intake };
}

const delayLine = (figures: DelayFigures) => `p50 ${figures.p50Ms.toFixed(1)} ms, p99 ${figures.p99Ms.toFixed(1)} ms (max ${figures.maxMs.toFixed(1)}, ${String(figures.samples)} deliveries)`;

export function formatWebhooks(figures: WebhookFigures, { connections, durationSeconds }: ThroughputOptions): string {
  return [
    `POST /webhooks/gitlab/:installationId, ${String(connections)} connections, a new Idempotency-Key per request (every delivery stored); each run a fixed number of requests (a one-second probe's rate × ${String(durationSeconds)} s), all answered before it ends:`,
    formatThroughput(figures.intake.map((run) => run.result)),
    ...figures.intake.map(
      (run) => `${sizeName(run.bytes)}: ${String(run.result.ok)} answered 2xx, ${String(run.stored)} rows stored${run.stored === run.result.ok ? ' (equal)' : ' (DIFFERENT)'}; CPU ${run.cpuMicrosPerRequest.toFixed(0)} µs per request`,
    ),
    `delivery sent → a reader long-polling (waitSeconds=${String(WAIT_SECONDS)}) has it, one delivery at a time, 1 KB:`,
    `  reader on the receiving process: ${delayLine(figures.sameProcess)}`,
    `  reader on another process (PostgreSQL NOTIFY): ${delayLine(figures.otherProcess)}`,
  ].join('\n');
}

/** The figures for the summary line. */
export function summarizeWebhooks(figures: WebhookFigures): string {
  const runs = figures.intake.map((run) => `${sizeName(run.bytes)} ${run.result.requestsPerSecond.toFixed(0)} req/s (p99 ${run.result.p99Ms.toFixed(0)} ms, ${String(run.stored)}/${String(run.result.ok)} stored/2xx)`);
  return `webhooks ${runs.join(', ')}; delivery to a waiting reader p50 ${figures.sameProcess.p50Ms.toFixed(1)} / p99 ${figures.sameProcess.p99Ms.toFixed(1)} ms (another process ${figures.otherProcess.p50Ms.toFixed(1)} / ${figures.otherProcess.p99Ms.toFixed(1)} ms)`;
}
