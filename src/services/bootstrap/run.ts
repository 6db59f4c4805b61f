// One bootstrap in progress: the leased instance as last written, its event trail, and how a failed
// step is recorded. Every write is fenced by the lease, so a bootstrap that outlived it cannot
// overwrite its successor.
import { insertInstanceEvent, updateLeasedInstance } from '../../db/instances.repo.js';
import type { EventOutcome, Instance, InstanceChanges } from '../../domain/types.js';
import { AppError } from '../../errors.js';
import { toAppError } from '../../gitlab/http.js';
import type { RequestLog, ServiceDeps } from '../deps.js';
import type { Ensured } from './resources.js';

export type BootstrapStep = 'url' | 'probe' | 'verify_token' | 'bot_user' | 'bot_token' | 'oauth_application' | 'ready';
export type RepairableStep = 'bot_user' | 'bot_token' | 'oauth_application';

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
  readonly leaseUntil: Date;
  /** When the bootstrap started: the reference time of its checks. */
  readonly startedAt: Date;

  constructor(
    readonly deps: ServiceDeps,
    public instance: Instance,
    options: { actor: string; leaseUntil: Date; now: Date },
  ) {
    this.wasReady = instance.status === 'ready';
    this.actor = options.actor;
    this.leaseUntil = options.leaseUntil;
    this.startedAt = options.now;
  }

  /** Records one step's event. */
  async record(step: BootstrapStep, outcome: EventOutcome, detail: string | null, errorCode: string | null = null): Promise<void> {
    await insertInstanceEvent(this.deps.db, { instanceId: this.instance.id, step, outcome, actor: this.actor, detail, errorCode });
  }

  /** Writes onto the instance while our lease holds; LeaseLost when it does not. */
  async save(changes: InstanceChanges): Promise<void> {
    const updated = await updateLeasedInstance(this.deps.db, this.instance.id, this.leaseUntil, { ...changes, updatedAt: this.deps.clock() });
    if (!updated) throw new LeaseLost();
    this.instance = updated;
  }

  /** Records what an ensure* did with a resource, and remembers a repair. */
  async note(step: RepairableStep, ensured: Ensured<unknown>, what: string): Promise<void> {
    if (ensured.outcome === 'repaired') this.repaired.push(step);
    await this.record(step, eventOutcome[ensured.outcome], `${what} ${ensured.outcome}`);
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
      await this.save({ bootstrapLeaseUntil: null });
      log.warn({ instanceId: this.instance.id, step, code }, 'a re-check of a ready instance failed before its admin token was verified; the instance is left untouched');
    } else {
      await this.save({ status: this.wasReady ? 'ready' : 'failed', bootstrapLeaseUntil: null, lastErrorStep: step, lastErrorCode: code, lastErrorDetail: message });
      await this.record(step, 'failed', message, code);
    }
    const answer = new AppError(code, message, { ...extras, step });
    answer.cause = cause;
    return answer;
  }
}
