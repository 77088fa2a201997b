'use strict';

// faceoff target "express": the shared HTTP contract on Express 5, single process. The
// articles' code comes first: the routes, each from a seed snippet. The contract's plumbing
// (input rules, 405/404, JSON errors, listening and shutdown) is in contract.js.

const { setTimeout: sleep } = require('node:timers/promises');
const express = require('express');
const {
  queryInt, serverHeader, methodNotAllowed, jsonBody, validateJob, handleErrors, listen,
} = require('./contract');
const { processor, validateOrder, validateReset } = require('./orders');
const { leibniz } = require('./leibniz');
// JOB_POOL_WORKERS set: the persistent worker_threads pool (jobs-pool.js), else a process per job.
const { runLeibnizJob, stopAllJobs } = require(process.env.JOB_POOL_WORKERS ? './jobs-pool' : './jobs');
const db = require('./db');
const hybrid = require('./hybrid');
const periodic = require('./periodic');
const { matmul } = require('./numeric');
const files = require('./files');

// The contract's bounds.
const MAX_SLEEP_MS = 10000;
const MAX_COMPUTE_N = 100000000;
const MAX_MATRIX_N = 512;

const app = express();
app.disable('x-powered-by');
app.use(serverHeader);

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

// The numeric workload (seeds 000, 002, 003): a matrix product on typed arrays, on the
// event loop (numeric.js).
app.route('/numeric/matmul')
  .get((req, res) => {
    res.json(matmul(queryInt(req, 'n', 1, MAX_MATRIX_N)));
  })
  .all(methodNotAllowed('GET', 'HEAD'));

// The file I/O workload (seed 001's fs.readFile): a file of N KiB read with fs.promises
// (files.js), sent as it is.
app.route('/files/read')
  .get(async (req, res) => {
    const data = await files.readSized(queryInt(req, 'kb', 1, files.MAX_FILE_KB));
    res.type('text/plain; charset=utf-8').send(data);
  })
  .all(methodNotAllowed('GET', 'HEAD'));

// Seed 004's offload: the same loop in a worker process per job (jobs.js, worker.js).
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

// Sharkbench's web test, which seed 004 quotes (Fastify 9,340 vs FastAPI 1,185 req/s): each
// request fetches a JSON document from the data server with fetch, parses it and answers a
// few fields (periodic.js).
app.route('/api/v1/periodic-table/element')
  .get(async (req, res) => {
    res.json(await periodic.element(req.query.symbol));
  })
  .all(methodNotAllowed('GET', 'HEAD'));
app.route('/api/v1/periodic-table/shells')
  .get(async (req, res) => {
    res.json(await periodic.shells(req.query.symbol));
  })
  .all(methodNotAllowed('GET', 'HEAD'));

// The contract's plumbing, after every route: 404 and JSON errors, then listening.
handleErrors(app);
listen(app, { beforeClose: stopAllJobs, afterClose: () => db.close() });
