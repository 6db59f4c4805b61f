// The bench's anchor: the least a lookup can cost on this machine. A bare node:http server and a
// pg.Pool({ max: 10 }) running the lookup's query shape on `anchor_instances` (10 000 rows, url unique).
// Usage: node --import tsx bench/anchor.ts <database url> <port>; prints "listening" when ready.
import { createServer } from 'node:http';
import pg from 'pg';

const [databaseUrl, port] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://anchor').searchParams.get('url') ?? '';
  pool.query('select id, url, status from anchor_instances where url = $1', [url]).then(
    ({ rows }) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(rows[0] ?? { url, status: 'unregistered' }));
    },
    () => {
      response.writeHead(500).end();
    },
  );
});

server.listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
