// One bootstrap in progress: the leased instance as last written, its event trail, and how a failed
// step is recorded. Every write is fenced by the lease, so a bootstrap that outlived it cannot
// overwrite its successor; a heartbeat renews the lease while the run works, so a dead run's lease
// lapses within LEASE_MS.
import { setTimeout as sleep } from 'node:timers/promises';
import { isDatabaseUnavailable } from '../../db/faults.js';
import { insertInstanceEvent, renewBootstrapLease, updateLeasedInstance } from '../../db/instances.repo.js';
import type { EventOutcome, Instance, InstanceChanges } from '../../domain/types.js';
import { AppError } from '../../errors.js';
import { toAppError } from '../../gitlab/http.js';
import type { RequestLog, ServiceDeps } from '../deps.js';
import type { Ensured } from './resources.js';

export type BootstrapStep = 'url' | 'probe' | 'verify_token' | 'bot_user' | 'bot_token' | 'oauth_application' | 'ready';
export type RepairableStep = 'bot_user' | 'bot_token' | 'oauth_application';

/** A run stopped by the database retries recording that, this often, for up to RECORD_ATTEMPTS tries. */
const RECORD_RETRY_MS = 1000;
const RECORD_ATTEMPTS = 300;

/** Our lease ran out and another bootstrap took the instance over: stop writing. */
export class LeaseLost extends Error {}

/** A step failed: GitLab's answer (or our check of it) as the AppError the caller will get. */
export class StepFailure extends Error {
  readonly error: AppError;
  constructor(
    readonly step: BootstrapStep,
    cause: unknown,
  ) {
    const error = toAppError(cause);
    super(error.message);
    this.error = error;
  }
}

/** Runs one step's work; whatever it throws becomes that step's failure. */
export async function inStep<T>(step: BootstrapStep, work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw error instanceof StepFailure ? error : new StepFailure(step, error);
  }
}

/** Steps that fail before the caller has proven to administer the instance. */
const UNPROVEN_STEPS: ReadonlySet<BootstrapStep> = new Set(['url', 'probe', 'verify_token']);

const eventOutcome = { created: 'succeeded', kept: 'skipped', repaired: 'repaired' } as const satisfies Record<Ensured<unknown>['outcome'], EventOutcome>;

export class BootstrapRun {
  readonly wasReady: boolean;
  readonly repaired: RepairableStep[] = [];
  readonly actor: string;
  /** Our bootstrap lease's id: every write is fenced on it. */
  readonly leaseHolder: string;
  /** When the bootstrap started: the reference time of its checks. */
  readonly startedAt: Date;
  /** The last step recorded: where a run the database stopped had got to. */
  reached: BootstrapStep = 'url';

  constructor(
    readonly deps: ServiceDeps,
    public instance: Instance,
    options: { actor: string; leaseHolder: string; now: Date },
  ) {
    this.wasReady = instance.status === 'ready';
    this.actor = options.actor;
    this.leaseHolder = options.leaseHolder;
    this.startedAt = options.now;
  }

  /** Renews the lease every LEASE_HEARTBEAT_MS until the returned function is called. */
  startHeartbeat(): () => void {
    const { db, clock, config } = this.deps;
    const timer = setInterval(() => {
      renewBootstrapLease(db, this.instance.id, this.leaseHolder, new Date(clock().getTime() + config.leaseMs)).catch(() => {});
    }, config.leaseHeartbeatMs);
    timer.unref();
    return () => { clearInterval(timer); };
  }

  /** Records one step's event. */
  async record(step: BootstrapStep, outcome: EventOutcome, detail: string | null, errorCode: string | null = null): Promise<void> {
    await insertInstanceEvent(this.deps.db, { instanceId: this.instance.id, step, outcome, actor: this.actor, detail, errorCode });
    this.reached = step;
  }

  /** Writes onto the instance while our lease holds; LeaseLost when it does not. */
  async save(changes: InstanceChanges): Promise<void> {
    const updated = await updateLeasedInstance(this.deps.db, this.instance.id, this.leaseHolder, { ...changes, updatedAt: this.deps.clock() });
    if (!updated) throw new LeaseLost();
    this.instance = updated;
  }

  /**
   * Shows the step this run enters on the instance, for lookup's progress display (a fenced write: the
   * instances trigger drops every lookup cache's entry). A re-check of a ready instance shows none:
   * lookup shows a ready instance as ready, and an unproven caller writes nothing on it.
   */
  async enter(step: BootstrapStep): Promise<void> {
    if (!this.wasReady) await this.save({ bootstrapStep: step });
  }

  /** Records what an ensure* did with a resource, and remembers a repair. */
  async note(step: RepairableStep, ensured: Ensured<unknown>, what: string): Promise<void> {
    if (ensured.outcome === 'repaired') this.repaired.push(step);
    await this.record(step, eventOutcome[ensured.outcome], `${what} ${ensured.outcome}${ensured.found ? `: ${ensured.found}` : ''}`);
  }

  /**
   * The run stopped on something other than GitLab (the database went away, a bug): records the
   * failure (status, last_error with the step reached, an event) as soon as the database answers,
   * retrying in the background for about 5 minutes. Until then the lease lapses within LEASE_MS and
   * lookup shows failed. A successor holding the lease makes it give up (fenced writes).
   */
  recordWhenPossible(cause: unknown): void {
    const code = isDatabaseUnavailable(cause) ? 'database_unavailable' : 'internal_error';
    const detail = `The bootstrap stopped after step ${this.reached}: ${code === 'database_unavailable' ? 'the database could not be reached' : 'an internal error'}; run it again`;
    const attempt = async () => {
      await this.save({ status: this.wasReady ? 'ready' : 'failed', bootstrapLeaseUntil: null, bootstrapLeaseHolder: null, bootstrapStep: null, lastErrorStep: this.reached, lastErrorCode: code, lastErrorDetail: detail });
      await this.record(this.reached, 'failed', detail, code);
    };
    void (async () => {
      for (let tries = 0; tries < RECORD_ATTEMPTS; tries++) {
        try {
          await attempt();
          return;
        } catch (error) {
          if (error instanceof LeaseLost) return;
        }
        await sleep(RECORD_RETRY_MS, undefined, { ref: false });
      }
    })();
  }

  /**
   * Stage 4, the other way: releases the lease, records the failure on the instance and as an event,
   * and returns the AppError to answer (with its step). A ready instance stays ready: what it has on
   * GitLab may well still work, and logins go on. A re-check of a ready instance that failed before
   * the admin token was verified (anyone can send one) leaves its record and audit trail untouched:
   * the attempt is only logged. A never-ready instance keeps status failed and the failed step, so the
   * upkeep can find and delete those that never got past verify_token.
   */
  async fail(failure: StepFailure, log: RequestLog): Promise<AppError> {
    // The address rule belongs to the url step, though it is judged when the probe connects.
    const step = failure.error.code === 'url_not_allowed' ? 'url' : failure.step;
    const { code, message, extras, cause } = failure.error;
    if (this.wasReady && UNPROVEN_STEPS.has(step)) {
      await this.save({ bootstrapLeaseUntil: null, bootstrapLeaseHolder: null, bootstrapStep: null });
      log.warn({ instanceId: this.instance.id, step, code }, 'a re-check of a ready instance failed before its admin token was verified; the instance is left untouched');
    } else {
      await this.save({ status: this.wasReady ? 'ready' : 'failed', bootstrapLeaseUntil: null, bootstrapLeaseHolder: null, bootstrapStep: null, lastErrorStep: step, lastErrorCode: code, lastErrorDetail: message });
      await this.record(step, 'failed', message, code);
    }
    const answer = new AppError(code, message, { ...extras, step });
    answer.cause = cause;
    return answer;
  }
}
