'use strict';

// faceoff target "fastify": the shared HTTP contract on Fastify 5, single process.

const http = require('node:http');
const { setTimeout: sleep } = require('node:timers/promises');
const Fastify = require('fastify');
const {
  processor, orderBodySchema, resetBodySchema, orderResultSchema, snapshotSchema,
} = require('./orders');
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

function httpError(statusCode, message) {
  const err = new Error(message);
  err.statusCode = statusCode;
  err.expose = true;
  return err;
}

const app = Fastify({
  logger: false,
  // Past 64 KiB a body is a 413.
  bodyLimit: MAX_BODY_BYTES,
  // Validate, don't fix up: Fastify's Ajv defaults would coerce "2" to 2 and silently drop
  // unknown fields; the contract wants both refused with a 400.
  ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  // Errors Fastify raises before routing (a malformed URL) get the same JSON error shape.
  frameworkErrors: (err, request, reply) => {
    reply.code(400).send({ error: 'bad request' });
  },
});

// Every known path and its methods, recorded as routes are added (HEAD included, which
// Fastify adds for each GET route): an unknown method on a known path is a 405.
const allowedMethods = new Map();
app.addHook('onRoute', (route) => {
  const methods = allowedMethods.get(route.url) || new Set();
  for (const method of [].concat(route.method)) methods.add(method);
  allowedMethods.set(route.url, methods);
});

// Nothing matched: 405 with an Allow header if the path is known, else 404.
function notFound(request, reply) {
  const path = request.url.split('?', 1)[0];
  const allowed = allowedMethods.get(path);
  if (allowed) {
    return reply.code(405).header('allow', [...allowed].join(', ')).send({ error: 'method not allowed' });
  }
  return reply.code(404).send({ error: 'not found' });
}
app.setNotFoundHandler(notFound);
// Decide 404/405 on the method and path alone, before Fastify reads a body for the
// not-found route (which could otherwise answer 400 or 413 first).
app.addHook('onRequest', async (request, reply) => {
  if (request.is404) return notFound(request, reply);
});

// Bodies: JSON only. Without the default text/plain parser a text body is a 415, like any
// other type (and like a body with no content type). An optional charset must be utf-8.
// An empty JSON body is "no body" (Fastify's parser would refuse it).
function hasUtf8Charset(header) {
  return header.split(';').slice(1).every((param) => {
    const [key, value = ''] = param.split('=');
    return key.trim().toLowerCase() !== 'charset'
      || value.trim().replace(/^"(.*)"$/, '$1').toLowerCase() === 'utf-8';
  });
}
app.removeAllContentTypeParsers();
const parseJson = app.getDefaultJsonParser(
  app.initialConfig.onProtoPoisoning,
  app.initialConfig.onConstructorPoisoning,
);
app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
  if (!hasUtf8Charset(request.headers['content-type'])) {
    done(httpError(415, 'content type must be application/json'), undefined);
  } else if (body.length === 0) {
    done(null, undefined);
  } else {
    parseJson(request, body, done);
  }
});

// A query integer: plain decimal digits only (not `5.0`, `-5`, `1e3` or empty); the schema
// checks the form, the handler the range.
const digits = { type: 'string', pattern: '^[0-9]+$' };
function inRange(raw, name, min, max) {
  const value = Number(raw);
  if (value < min || value > max) throw httpError(400, `${name} must be from ${min} to ${max}`);
  return value;
}

// Seed 004: the Express and FastAPI `/status` snippet. The response schemas let Fastify
// serialize with its compiled serializer, as Fastify apps are written in production.
app.get('/status', {
  schema: {
    response: {
      200: {
        type: 'object',
        properties: {
          service: { type: 'string' },
          status: { type: 'string' },
          t_ms: { type: 'integer' },
        },
        required: ['service', 'status', 't_ms'],
      },
    },
  },
}, async () => ({ service: 'edge-metrics', status: 'ok', t_ms: 4 }));

// Seed 001's simulated I/O: awaited (other requests go on), or blocking the one event loop
// the way synchronous code does (Atomics.wait sleeps the thread without spinning the CPU).
app.register(async function ioRoutes(io) {
  const schema = {
    querystring: { type: 'object', required: ['ms'], properties: { ms: digits } },
    response: {
      200: {
        type: 'object',
        required: ['slept_ms', 'blocking'],
        properties: { slept_ms: { type: 'integer' }, blocking: { type: 'boolean' } },
      },
    },
  };
  io.get('/sleep', { schema }, async (request) => {
    const ms = inRange(request.query.ms, 'ms', 0, MAX_SLEEP_MS);
    await sleep(ms);
    return { slept_ms: ms, blocking: false };
  });
  io.get('/sleep-blocking', { schema }, async (request) => {
    const ms = inRange(request.query.ms, 'ms', 0, MAX_SLEEP_MS);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    return { slept_ms: ms, blocking: true };
  });
}, { prefix: '/io' });

// Seed 001's OrderProcessor (state, rules and schemas in orders.js).
app.register(async function orderRoutes(orders) {
  orders.post('/', {
    schema: { body: orderBodySchema, response: { 201: orderResultSchema } },
  }, async (request, reply) => {
    reply.code(201);
    return processor.processOrder(request.body);
  });
  orders.get('/inventory', {
    schema: { response: { 200: snapshotSchema } },
  }, async () => processor.snapshot());
  orders.post('/reset', {
    schema: { body: resetBodySchema, response: { 200: snapshotSchema } },
    // No body (or an empty one) is the same as {}: the article's inventory.
    preValidation: async (request) => {
      if (request.body === undefined) request.body = {};
    },
  }, async (request) => {
    processor.reset(request.body.inventory);
    return processor.snapshot();
  });
}, { prefix: '/orders' });

const leibnizResultSchema = {
  type: 'object',
  required: ['n', 'pi'],
  properties: { n: { type: 'integer' }, pi: { type: 'number' } },
};

// Seed 004's compute test, on the event loop.
app.get('/compute/leibniz', {
  schema: {
    querystring: { type: 'object', required: ['n'], properties: { n: digits } },
    response: { 200: leibnizResultSchema },
  },
}, async (request) => {
  const n = inRange(request.query.n, 'n', 1, MAX_COMPUTE_N);
  return { n, pi: leibniz(n) };
});

// Seed 004's offload: the same loop in a worker process per job (jobs.js, worker.js).
app.post('/jobs/leibniz', {
  schema: {
    body: {
      type: 'object',
      additionalProperties: false,
      required: ['n'],
      properties: {
        n: { type: 'integer', minimum: 1, maximum: MAX_JOB_N },
        timeout_ms: {
          type: 'integer', minimum: 1, maximum: MAX_JOB_TIMEOUT_MS, default: DEFAULT_JOB_TIMEOUT_MS,
        },
      },
    },
    response: { 200: leibnizResultSchema },
  },
}, async (request) => runLeibnizJob(request.body.n, request.body.timeout_ms));

// Seed 003's database test (TechEmpower's single and multiple queries), in db.js.
const worldRowSchema = {
  type: 'object',
  required: ['id', 'randomNumber'],
  properties: { id: { type: 'integer' }, randomNumber: { type: 'integer' } },
};
app.get('/db/single', {
  schema: { response: { 200: worldRowSchema } },
}, async () => db.singleRow());
app.get('/db/multiple', {
  schema: { response: { 200: { type: 'array', items: worldRowSchema } } },
}, async (request) => db.multipleRows(db.queryCount(request.query.count)));

// Seed 001's hybrid notifications, served by Node alone (hybrid.js).
const notificationSchema = {
  type: 'object',
  required: ['id', 'message', 'read'],
  properties: { id: { type: 'integer' }, message: { type: 'string' }, read: { type: 'boolean' } },
};
app.get('/hybrid/notifications', {
  schema: {
    response: {
      200: {
        type: 'object',
        required: ['realtime', 'historical', 'server'],
        properties: {
          realtime: { type: 'array', items: notificationSchema },
          historical: { type: 'array', items: notificationSchema },
          server: { type: 'string' },
        },
      },
    },
  },
}, async (request) => hybrid.notifications(request.query.user_id));

// Shutdown: kill the offload workers first (their requests get a 503) so that in-flight
// job requests end now rather than at their timeout.
app.addHook('preClose', async () => {
  stopAllJobs();
});
app.addHook('onClose', async () => {
  await db.close();
});

// Errors: client errors (ours, and Fastify's: schema validation, malformed JSON, 413, 415)
// and the errors that explain themselves (the jobs' 504/500/503) keep their status and
// message; anything else is a 500 that does not leak details.
app.setErrorHandler((err, request, reply) => {
  const status = Number(err.statusCode);
  if (status >= 400 && status < 600 && (status < 500 || err.expose)) {
    const message = err.message || http.STATUS_CODES[status].toLowerCase();
    return reply.code(status).send({ error: message });
  }
  console.error(err);
  return reply.code(500).send({ error: 'internal error' });
});

async function main() {
  await app.listen({ host: HOST, port: PORT });
  const { address, port } = app.server.address();
  const shown = address.includes(':') ? `[${address}]` : address;
  console.log(`fastify listening on http://${shown}:${port}`);
}

let closing = false;
function shutdown() {
  if (closing) return;
  closing = true;
  // Stop accepting, drop idle keep-alive connections, let in-flight requests finish.
  setTimeout(() => {
    app.server.closeAllConnections();
    process.exit(0);
  }, SHUTDOWN_GRACE_MS).unref();
  app.close().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

main().catch((err) => {
  console.error(`fastify failed to listen on ${HOST}:${PORT}: ${err.message}`);
  process.exit(1);
});
