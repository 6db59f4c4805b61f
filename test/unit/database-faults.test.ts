// Which errors count as "the database is unavailable" (503) rather than a bug (500).
import t from 'tap';
import { isDatabaseUnavailable } from '../../src/db/faults.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

t.test('socket, pool, client and server errors of an unreachable or slow database count', async (t) => {
  const unavailable: [string, unknown][] = [
    ['connection refused', withCode('ECONNREFUSED')],
    ['connection reset', withCode('ECONNRESET')],
    ['refused on every address', new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')])],
    ['connection exception (class 08)', withCode('08006')],
    ['statement_timeout (query_canceled)', withCode('57014')],
    ['admin shutdown', withCode('57P01')],
    ['cannot connect now (starting up)', withCode('57P03')],
    ['too many connections', withCode('53300')],
    ['pg: connection terminated', new Error('Connection terminated unexpectedly')],
    ['pg: query_timeout', new Error('Query read timeout')],
    ['pg-pool: connect timeout', new Error('timeout exceeded when trying to connect')],
    ['wrapped as a cause', new Error('lookup failed', { cause: withCode('ECONNRESET') })],
  ];
  for (const [name, error] of unavailable) t.ok(isDatabaseUnavailable(error), name);
});

t.test('query bugs and other errors do not count', async (t) => {
  const others: [string, unknown][] = [
    ['unique violation', withCode('23505')],
    ['syntax error', withCode('42601')],
    ['a plain error', new Error('boom')],
    ['not an error', 'ECONNREFUSED'],
    ['nothing', undefined],
  ];
  for (const [name, error] of others) t.notOk(isDatabaseUnavailable(error), name);
});
