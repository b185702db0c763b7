// Stand-in for the NestJS API: GET /api/health -> 200 {"status":"ok",…} on PORT once a TCP connection to the
// database (host and port of DATABASE_URL, default app-db:5432) has succeeded, as the real API connects at start.
// GET /api/db logs in with DATABASE_URL (node-postgres, Debian's node-pg) and answers the address the database
// sees the connection come from (inet_client_addr): a test sees whether the API reaches app-db through a pooler.
// Other paths under /api answer 404 JSON, as Nest does.
'use strict';
const http = require('http');
const os = require('os');
const net = require('net');
const { Client } = require('pg');

const port = Number(process.env.PORT || 4000);
const db = new URL(process.env.DATABASE_URL || 'postgresql://app-db:5432/postgres');
let dbReachable = false;

function probeDatabase() {
  const socket = net.connect({ host: db.hostname, port: Number(db.port || 5432) });
  socket.setTimeout(3000);
  socket.on('connect', () => {
    dbReachable = true;
    console.log(`[standin-api] database ${db.hostname}:${db.port || 5432} reachable`);
    socket.destroy();
  });
  const retry = (error) => {
    socket.destroy();
    console.log(`[standin-api] database not reachable yet (${error ? error.code || error.message : 'timeout'})`);
    setTimeout(probeDatabase, 1000);
  };
  socket.on('error', retry);
  socket.on('timeout', () => retry());
}
probeDatabase();

async function databaseClient() {
  const client = new Client({ connectionString: db.href, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const result = await client.query('SELECT host(inet_client_addr()) AS client, current_user AS "user"');
    return { status: 200, body: { ...result.rows[0], instance: os.hostname() } };
  } catch (error) {
    return { status: 503, body: { error: error.message, instance: os.hostname() } };
  } finally {
    client.end().catch(() => {});
  }
}

http.createServer(async (req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/api/db') {
    const { status, body } = await databaseClient();
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
    console.log(`[standin-api] ${req.method} ${req.url} ${status}`);
    return;
  }
  let status = 404;
  let body = { statusCode: 404, message: `Cannot ${req.method} ${path}`, error: 'Not Found' };
  if (path === '/api/health') {
    status = dbReachable ? 200 : 503;
    // instance: the container's hostname (its id in Docker), so that a test sees which replica answered.
    body = {
      status: dbReachable ? 'ok' : 'error',
      info: { database: { status: dbReachable ? 'up' : 'down' } },
      instance: os.hostname(),
    };
  }
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
  console.log(`[standin-api] ${req.method} ${req.url} ${status}`);
}).listen(port, '0.0.0.0', () => console.log(`[standin-api] listening on ${port}`));
