'use strict';

// The db workload (seed 003's "Requests/sec (DB)", TechEmpower's rules): rows of the `world`
// table from the PostgreSQL named by DATABASE_URL, through node-postgres's pool of
// DB_POOL_SIZE connections. Without DATABASE_URL the app still starts; the db routes then
// answer 503 with a JSON error, as they do when the database is down.

const { Pool } = require('pg');

const WORLD_ROWS = 10000;
const MAX_QUERIES = 500;
// A named statement: node-postgres prepares it once per connection.
const WORLD_QUERY = 'SELECT id, randomnumber FROM world WHERE id = $1';

const url = process.env.DATABASE_URL;
const pool = url
  ? new Pool({
    connectionString: url,
    max: Number(process.env.DB_POOL_SIZE || 10),
    // A database that is down fails requests in seconds instead of hanging them.
    connectionTimeoutMillis: 3000,
  })
  : null;
// A pooled connection that breaks (the database went away) must not crash the app: idle,
// the pool reports it; checked out, the client itself does, and the query in flight fails
// with a 503.
function logDatabaseError(err) {
  console.error(`database: ${err.message}`);
}
if (pool) {
  pool.on('error', logDatabaseError);
  pool.on('connect', (client) => client.on('error', logDatabaseError));
}

function unavailable(message) {
  const err = new Error(message);
  err.status = 503;
  err.statusCode = 503;
  err.expose = true;
  return err;
}

function randomId() {
  return 1 + Math.floor(Math.random() * WORLD_ROWS);
}

// TechEmpower's clamping: missing, empty, not an integer, or below 1 -> 1; above 500 -> 500.
function queryCount(raw) {
  if (typeof raw !== 'string' || !/^-?[0-9]+$/.test(raw)) return 1;
  const n = Number(raw);
  if (n < 1) return 1;
  return Math.min(n, MAX_QUERIES);
}

async function readRow(client) {
  const { rows } = await client.query({ name: 'world', text: WORLD_QUERY, values: [randomId()] });
  return { id: rows[0].id, randomNumber: rows[0].randomnumber };
}

async function connect() {
  if (!pool) throw unavailable('no database configured: set DATABASE_URL');
  try {
    return await pool.connect();
  } catch (err) {
    throw unavailable(`database unavailable: ${err.message}`);
  }
}

// One random row.
async function singleRow() {
  return multipleRows(1).then((rows) => rows[0]);
}

// `count` random rows, one query each, in turn on one pooled connection.
async function multipleRows(count) {
  const client = await connect();
  let broken = false;
  try {
    const rows = [];
    for (let i = 0; i < count; i += 1) rows.push(await readRow(client));
    return rows;
  } catch (err) {
    broken = true;
    throw unavailable(`database error: ${err.message}`);
  } finally {
    // A connection that failed a query is dropped, not handed to the next request.
    client.release(broken);
  }
}

async function close() {
  if (pool) await pool.end();
}

module.exports = { queryCount, singleRow, multipleRows, close };
