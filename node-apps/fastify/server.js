'use strict';

// faceoff target "fastify": the shared HTTP contract on Fastify 5, single process. The
// articles' code comes first: the routes, each from a seed snippet, with their schemas. The
// contract's plumbing (options, 405/404, content types, JSON errors, listening and
// shutdown) is in contract.js.

const { setTimeout: sleep } = require('node:timers/promises');
const Fastify = require('fastify');
const contract = require('./contract');
const {
  processor, orderBodySchema, resetBodySchema, orderResultSchema, snapshotSchema,
} = require('./orders');
const { leibniz } = require('./leibniz');
// JOB_POOL_WORKERS set: the persistent worker_threads pool (jobs-pool.js), else a process per job.
const { runLeibnizJob, stopAllJobs } = require(process.env.JOB_POOL_WORKERS ? './jobs-pool' : './jobs');
const db = require('./db');
const hybrid = require('./hybrid');
const periodic = require('./periodic');
const { matmul } = require('./numeric');
const files = require('./files');

const { digits, inRange } = contract;
// The contract's bounds.
const MAX_SLEEP_MS = 10000;
const MAX_COMPUTE_N = 100000000;
const MAX_MATRIX_N = 512;
const MAX_JOB_N = 1000000000;
const MAX_JOB_TIMEOUT_MS = 10000;
const DEFAULT_JOB_TIMEOUT_MS = 2000;

const app = Fastify(contract.options);
contract.install(app, { beforeClose: stopAllJobs, afterClose: () => db.close() });

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

// The numeric workload (seeds 000, 002, 003): a matrix product on typed arrays, on the
// event loop (numeric.js).
app.get('/numeric/matmul', {
  schema: {
    querystring: { type: 'object', required: ['n'], properties: { n: digits } },
    response: {
      200: {
        type: 'object',
        required: ['n', 'trace', 'sum_sq'],
        properties: { n: { type: 'integer' }, trace: { type: 'number' }, sum_sq: { type: 'number' } },
      },
    },
  },
}, async (request) => matmul(inRange(request.query.n, 'n', 1, MAX_MATRIX_N)));

// The file I/O workload (seed 001's fs.readFile): a file of N KiB read with fs.promises
// (files.js), sent as it is.
app.get('/files/read', {
  schema: { querystring: { type: 'object', required: ['kb'], properties: { kb: digits } } },
}, async (request, reply) => {
  const data = await files.readSized(inRange(request.query.kb, 'kb', 1, files.MAX_FILE_KB));
  reply.type('text/plain; charset=utf-8');
  return data;
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

// Sharkbench's web test, which seed 004 quotes (Fastify 9,340 vs FastAPI 1,185 req/s): each
// request fetches a JSON document from the data server with fetch, parses it and answers a
// few fields (periodic.js).
app.get('/api/v1/periodic-table/element', {
  schema: {
    response: {
      200: {
        type: 'object',
        required: ['name', 'number', 'group'],
        properties: { name: { type: 'string' }, number: { type: 'integer' }, group: { type: 'integer' } },
      },
    },
  },
}, async (request) => periodic.element(request.query.symbol));
app.get('/api/v1/periodic-table/shells', {
  schema: {
    response: {
      200: {
        type: 'object',
        required: ['shells'],
        properties: { shells: { type: 'array', items: { type: 'integer' } } },
      },
    },
  },
}, async (request) => periodic.shells(request.query.symbol));

contract.listen(app);
