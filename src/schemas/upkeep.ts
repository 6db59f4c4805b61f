// Models of the internal upkeep routes: the recent runs of the scheduled rotation, re-verification and clean-up.
import Type, { type Static } from 'typebox';

export const UpkeepRun = Type.Object(
  {
    id: Type.String({ description: 'Run id (increasing)' }),
    job: Type.Union([Type.Literal('sweep'), Type.Literal('instance')], { description: "sweep: the clean-ups and the instances' checks queued, once per interval; instance: one instance's rotation and check" }),
    instanceId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'The instance (job instance)' }),
    startedAt: Type.String({ format: 'date-time', description: 'When it started' }),
    finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When it ended; null while running. A run whose process died stays running until the first sweep after UPKEEP_JOB_TIMEOUT_SECONDS marks it abandoned (its job is retried as a new run)' }),
    outcome: Type.Union([Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('skipped'), Type.Literal('abandoned')], {
      description: 'failed runs are retried with back-off; skipped: the instance was no longer ready; abandoned: still running after UPKEEP_JOB_TIMEOUT_SECONDS (its process was stopped or killed, or it overran), marked by a sweep, its job retried as a new run',
    }),
    counts: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String()]), {
      description: "Per task: rows deleted (loginStatesDeleted, sessionsDeleted, rateLimitWindowsDeleted, abandonedInstancesDeleted, upkeepRunsDeleted, webhookEventsDeleted), upkeepRunsAbandoned, instancesQueued; botToken (rotated, not_due, no_token, failed), check ('ok' or the problem code), hooks ('none', 'ok', or how many were repaired and broken)",
    }),
    error: Type.Union([Type.String(), Type.Null()], { description: 'Why it failed (never a secret)' }),
  },
  { $id: 'UpkeepRun', additionalProperties: false, description: 'One run of an upkeep job' },
);
export type UpkeepRunBody = Static<typeof UpkeepRun>;

export const UpkeepRunsQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'How many runs, newest first' })) },
  { additionalProperties: false },
);
