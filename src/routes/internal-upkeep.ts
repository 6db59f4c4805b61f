// Internal upkeep routes: the recent runs of the scheduled rotation, re-verification and clean-up, and a sweep on demand.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { UpkeepRun as Run } from '../domain/types.js';
import { AppError } from '../errors.js';
import { registerInternalAuth } from '../plugins/internal-auth.js';
import { problemResponses } from '../schemas/problem.js';
import { ref } from '../schemas/ref.js';
import { UpkeepRun, UpkeepRunsQuery, type UpkeepRunBody } from '../schemas/upkeep.js';
import { recentUpkeepRuns } from '../services/upkeep/runs.js';

const internal = { tags: ['internal'], security: [{ internalBearer: [] }] };

function runView(run: Run): UpkeepRunBody {
  return {
    id: String(run.id),
    job: run.job === 'sweep' ? 'sweep' : 'instance',
    instanceId: run.instanceId,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    outcome: run.outcome as UpkeepRunBody['outcome'],
    counts: run.counts,
    error: run.error,
  };
}

const internalUpkeepRoutes: FastifyPluginAsyncTypebox = (app) => {
  registerInternalAuth(app);

  app.get('/internal/upkeep/runs', {
    schema: {
      ...internal,
      operationId: 'listUpkeepRuns',
      summary: 'Recent upkeep runs',
      description:
        'The runs of the upkeep, newest first: the sweep (once per UPKEEP_INTERVAL_SECONDS across all replicas: expired login states, sessions, rate-limit windows, abandoned instances and old webhook events deleted, every ready instance queued for its check) and each instance’s run (bot token rotated when due, live check, project hooks). Each with its outcome, counts and error. A run whose process was killed shows `running` until the first sweep after UPKEEP_JOB_TIMEOUT_SECONDS marks it `abandoned` (its job is retried as a new run). Kept 7 days.',
      querystring: UpkeepRunsQuery,
      response: {
        200: Type.Object({ runs: Type.Array(ref(UpkeepRun)) }, { additionalProperties: false, description: 'Runs, newest first' }),
        ...problemResponses('internal_unauthorized', 'validation_failed'),
      },
    },
    handler: async (request) => ({ runs: (await recentUpkeepRuns(app.deps, request.query.limit ?? 50)).map(runView) }),
  });

  app.post('/internal/upkeep/sweep', {
    schema: {
      ...internal,
      operationId: 'triggerUpkeepSweep',
      summary: 'Run the upkeep sweep now',
      description:
        'Queues a sweep at once (besides the scheduled ones): the clean-ups run and every ready instance is queued for its rotation and check at once (a scheduled sweep spreads them over the interval); an instance whose check is already queued is not queued twice. Answers `202` at once; follow it at `GET /internal/upkeep/runs`.',
      response: {
        202: Type.Object({ queued: Type.Literal(true) }, { additionalProperties: false, description: 'The sweep is queued' }),
        ...problemResponses('internal_unauthorized', 'upkeep_disabled'),
      },
    },
    handler: async (_request, reply) => {
      if (!app.upkeep) throw new AppError('upkeep_disabled', 'POST /internal/upkeep/sweep reached a process that runs no upkeep');
      await app.upkeep.triggerSweep();
      return reply.code(202).send({ queued: true });
    },
  });
  return Promise.resolve();
};

export default internalUpkeepRoutes;
