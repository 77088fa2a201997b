'use strict';

// faceoff target "express": the shared HTTP contract on Express 5, single process.

const http = require('node:http');
const { setTimeout: sleep } = require('node:timers/promises');
const express = require('express');
const { processor, validateOrder, validateReset } = require('./orders');
const { leibniz } = require('./leibniz');
const { runLeibnizJob, stopAllJobs } = require('./jobs');
const db = require('./db');
const hybrid = require('./hybrid');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 3000);
// How long in-flight requests may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE_MS = 2000;
// The contract's bounds.
const MAX_BODY_BYTES = 65536;
const MAX_SLEEP_MS = 10000;
const MAX_COMPUTE_N = 100000000;
const MAX_JOB_N = 1000000000;
const MAX_JOB_TIMEOUT_MS = 10000;
const DEFAULT_JOB_TIMEOUT_MS = 2000;

function httpError(status, message) {
  const err = new Error(message);
  err.status = status;
  err.expose = true;
  return err;
}

// A query integer: plain decimal digits only (not `5.0`, `-5`, `1e3` or empty), in range.
function queryInt(req, name, min, max) {
  const raw = req.query[name];
  if (raw === undefined) throw httpError(400, `query parameter ${name} is required`);
  if (typeof raw !== 'string' || !/^[0-9]+$/.test(raw)) {
    throw httpError(400, `${name} must be plain decimal digits`);
  }
  const value = Number(raw);
  if (value < min || value > max) throw httpError(400, `${name} must be from ${min} to ${max}`);
  return value;
}

// The last handler of every known path: its other methods get a 405, not Express's 404.
function methodNotAllowed(...allowed) {
  const allow = allowed.join(', ');
  return (req, res) => {
    res.set('Allow', allow).status(405).json({ error: 'method not allowed' });
  };
}

// JSON endpoints take only `application/json` (an optional charset must be utf-8): a body of
// another type, or a body with no type at all, is a 415. No body at all is left to the route.
function isJsonContentType(header) {
  const [type, ...params] = header.split(';');
  if (type.trim().toLowerCase() !== 'application/json') return false;
  return params.every((param) => {
    const [key, value = ''] = param.split('=');
    return key.trim().toLowerCase() !== 'charset'
      || value.trim().replace(/^"(.*)"$/, '$1').toLowerCase() === 'utf-8';
  });
}

function requireJson(req, res, next) {
  const type = req.headers['content-type'];
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined
    || (length !== undefined && length !== '0');
  if (type === undefined ? hasBody : !isJsonContentType(type)) {
    return next(httpError(415, 'content type must be application/json'));
  }
  next();
}

// Then express.json: 413 past 64 KiB, 400 for malformed JSON; an empty body becomes {}.
const jsonBody = [requireJson, express.json({ limit: MAX_BODY_BYTES })];

const app = express();
app.disable('x-powered-by');

// Seed 004: the Express and FastAPI `/status` snippet.
app.route('/status')
  .get((req, res) => {
    res.json({ service: 'edge-metrics', status: 'ok', t_ms: 4 });
  })
  .all(methodNotAllowed('GET', 'HEAD'));

// Seed 001's simulated I/O: awaited (other requests go on), or blocking the one event loop
// the way synchronous code does (Atomics.wait sleeps the thread without spinning the CPU).
const io = express.Router();
io.route('/sleep')
  .get(async (req, res) => {
    const ms = queryInt(req, 'ms', 0, MAX_SLEEP_MS);
    await sleep(ms);
    res.json({ slept_ms: ms, blocking: false });
  })
  .all(methodNotAllowed('GET', 'HEAD'));
io.route('/sleep-blocking')
  .get((req, res) => {
    const ms = queryInt(req, 'ms', 0, MAX_SLEEP_MS);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    res.json({ slept_ms: ms, blocking: true });
  })
  .all(methodNotAllowed('GET', 'HEAD'));
app.use('/io', io);

// Seed 001's OrderProcessor (state and rules in orders.js).
const orders = express.Router();
orders.route('/')
  .post(jsonBody, (req, res) => {
    const result = processor.processOrder(validateOrder(req.body));
    res.status(201).json(result);
  })
  .all(methodNotAllowed('POST'));
orders.route('/inventory')
  .get((req, res) => {
    res.json(processor.snapshot());
  })
  .all(methodNotAllowed('GET', 'HEAD'));
orders.route('/reset')
  .post(jsonBody, (req, res) => {
    // No body, an empty body or {} restores the article's inventory.
    processor.reset(validateReset(req.body));
    res.json(processor.snapshot());
  })
  .all(methodNotAllowed('POST'));
app.use('/orders', orders);

// Seed 004's compute test, on the event loop.
app.route('/compute/leibniz')
  .get((req, res) => {
    const n = queryInt(req, 'n', 1, MAX_COMPUTE_N);
    res.json({ n, pi: leibniz(n) });
  })
  .all(methodNotAllowed('GET', 'HEAD'));

// Seed 004's offload: the same loop in a worker process per job (jobs.js, worker.js).
function validateJob(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw httpError(400, 'the body must be a JSON object');
  }
  for (const key of Object.keys(body)) {
    if (key !== 'n' && key !== 'timeout_ms') throw httpError(400, `unknown field "${key}"`);
  }
  const { n, timeout_ms: timeoutMs = DEFAULT_JOB_TIMEOUT_MS } = body;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_JOB_N) {
    throw httpError(400, `n must be an integer from 1 to ${MAX_JOB_N}`);
  }
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs)
      || timeoutMs < 1 || timeoutMs > MAX_JOB_TIMEOUT_MS) {
    throw httpError(400, `timeout_ms must be an integer from 1 to ${MAX_JOB_TIMEOUT_MS}`);
  }
  return { n, timeoutMs };
}

app.route('/jobs/leibniz')
  .post(jsonBody, async (req, res) => {
    const { n, timeoutMs } = validateJob(req.body);
    res.json(await runLeibnizJob(n, timeoutMs));
  })
  .all(methodNotAllowed('POST'));

// Seed 003's database test (TechEmpower's single and multiple queries), in db.js.
app.route('/db/single')
  .get(async (req, res) => {
    res.json(await db.singleRow());
  })
  .all(methodNotAllowed('GET', 'HEAD'));
app.route('/db/multiple')
  .get(async (req, res) => {
    res.json(await db.multipleRows(db.queryCount(req.query.count)));
  })
  .all(methodNotAllowed('GET', 'HEAD'));

// Seed 001's hybrid notifications, served by Node alone (hybrid.js).
app.route('/hybrid/notifications')
  .get((req, res) => {
    res.json(hybrid.notifications(req.query.user_id));
  })
  .all(methodNotAllowed('GET', 'HEAD'));

// Nothing matched: 404 with a JSON body.
app.use((req, res) => {
  res.status(404).json({ error: 'not found' });
});

// Errors: client errors (ours, and Express's and express.json's: 400 malformed JSON, 413,
// 415) and the errors that explain themselves (the jobs' 504/500/503) keep their status and
// message; anything else is a 500 that does not leak details.
// eslint-disable-next-line no-unused-vars
app.use((err, req, res, next) => {
  if (res.headersSent) {
    return next(err);
  }
  const status = Number(err.status || err.statusCode);
  if (status >= 400 && status < 600 && (status < 500 || err.expose)) {
    const message = err.message || http.STATUS_CODES[status].toLowerCase();
    return res.status(status).json({ error: message });
  }
  console.error(err);
  res.status(500).json({ error: 'internal error' });
});

const server = app.listen(PORT, HOST, (err) => {
  if (err) {
    console.error(`express failed to listen on ${HOST}:${PORT}: ${err.message}`);
    process.exit(1);
  }
  const { address, port } = server.address();
  const shown = address.includes(':') ? `[${address}]` : address;
  console.log(`express listening on http://${shown}:${port}`);
});

let closing = false;
function shutdown() {
  if (closing) return;
  closing = true;
  // Kill the offload workers (their requests get a 503), stop accepting, drop idle
  // keep-alive connections, let in-flight requests finish.
  stopAllJobs();
  server.close(() => db.close().finally(() => process.exit(0)));
  server.closeIdleConnections();
  setTimeout(() => {
    server.closeAllConnections();
    process.exit(0);
  }, SHUTDOWN_GRACE_MS).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
