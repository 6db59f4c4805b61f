// `npm run bench`: builds the service, starts the built server on a fresh PostgreSQL database, measures,
// prints, and always stops the server and drops the database. It only measures: no number fails it.
// Sections are separate functions in bench/ files; later ones (bootstrap latency, login round trip)
// slot into `sections` below with the same running service.
import { formatBootstrapLatency, measureBootstrapLatency } from './bootstrap-latency.js';
import { formatThroughput, measureThroughput } from './http-throughput.js';
import { BENCH_INTERNAL_TOKEN, measureLogin } from './login-roundtrip.js';
import { buildService, createBenchDatabase, startBuiltService, type BenchDatabase, type RunningService } from './service.js';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const durationSeconds = Number(process.env.BENCH_DURATION_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);

interface BenchContext {
  service: RunningService;
  database: BenchDatabase;
}

type Section = { title: string; run(context: BenchContext): Promise<string> };

const BENCH_INSTANCE_URL = 'https://gitlab.bench.example';

const httpThroughput: Section = {
  title: `HTTP throughput (${connections} connections, ${durationSeconds} s per route)`,
  async run({ service, database }) {
    await database.query(`insert into instances (url, status) values ($1, 'ready')`, [BENCH_INSTANCE_URL]);
    // The lookup under load must be the 'ready' path (one indexed read), not the unregistered one.
    const probe = (await (await fetch(`${service.baseUrl}/instances/lookup?url=gitlab.bench.example`)).json()) as { status?: string };
    const note = probe.status === 'ready' ? '' : `\nnote: lookup answered status ${String(probe.status)}, not ready: the figures measure another path\n`;
    const options = { connections, durationSeconds };
    const lookup = await measureThroughput(service.baseUrl, 'lookup', '/instances/lookup?url=gitlab.bench.example', options);
    const healthz = await measureThroughput(service.baseUrl, 'healthz', '/healthz', options);
    return formatThroughput([lookup, healthz], { numerator: 'lookup', denominator: 'healthz' }) + note;
  },
};

const bootstrapLatency: Section = {
  title: 'Bootstrap latency (POST /instances/bootstrap, median of 10)',
  run: async ({ service }) => formatBootstrapLatency(await measureBootstrapLatency(service.baseUrl)),
};

const login: Section = {
  title: 'Login round trip (median of 20) and POST /internal/users/:id/gitlab-token throughput',
  run: async ({ service }) => measureLogin(service.baseUrl, { connections, durationSeconds }),
};

const sections: Section[] = [httpThroughput, bootstrapLatency, login];

/** The fake GitLabs listen on loopback over http, which the production defaults refuse. */
const SERVICE_ENV = { ALLOW_PRIVATE_NETWORKS: 'true', ALLOW_HTTP: 'true', BOOTSTRAP_RATE_LIMIT_PER_MINUTE: '10000', INTERNAL_API_TOKENS: BENCH_INTERNAL_TOKEN };

async function main(): Promise<void> {
  if (!Number.isFinite(durationSeconds) || durationSeconds <= 0) throw new Error('BENCH_DURATION_SECONDS must be a positive number');
  buildService();
  const database = await createBenchDatabase(serverUrl);
  let service: RunningService | undefined;
  const cleanUp = async () => {
    await service?.stop();
    await database.drop();
  };
  const onSignal = () => void cleanUp().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    service = await startBuiltService(database.url, SERVICE_ENV);
    process.stdout.write(`\nbench: built service at ${service.baseUrl}, database ${database.name}, node ${process.version}\n`);
    for (const section of sections) {
      process.stdout.write(`\n## ${section.title}\n\n${await section.run({ service, database })}\n`);
    }
  } finally {
    await cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
