'use strict';

// The offload on a persistent pool (targets express-offload-pool, fastify-offload-pool):
// seed 002's `worker_threads` for CPU work, beside jobs.js's process per job. N threads are
// started once (JOB_POOL_WORKERS, default one per CPU this process may run on) and take
// jobs in turn from one queue; the event loop only waits. A job past its timeout gets a
// 504 and its thread is terminated (Worker.terminate stops even a synchronous loop) and
// replaced, so the pool keeps its size. Same interface as jobs.js.

const os = require('node:os');
const { Worker } = require('node:worker_threads');
const { JobError } = require('./jobs');

// The thread's code: compute each {id, n} it is given and answer {id, pi}.
const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { leibniz } = require(${JSON.stringify(require.resolve('./leibniz'))});
parentPort.on('message', ({ id, n }) => parentPort.postMessage({ id, pi: leibniz(n) }));
`;

const asked = Number.parseInt(process.env.JOB_POOL_WORKERS ?? '', 10);
const SIZE = Number.isInteger(asked) && asked > 0 ? asked : os.availableParallelism();

const idle = [];
const busy = new Map(); // worker -> job
const queue = [];
let nextId = 1;
let accepting = true;

function spawn() {
  const worker = new Worker(THREAD_SOURCE, { eval: true });
  worker.on('message', ({ id, pi }) => {
    const job = busy.get(worker);
    if (!job || job.id !== id) return;
    busy.delete(worker);
    job.settle(null, { n: job.n, pi });
    release(worker);
  });
  worker.on('error', (err) => {
    const job = busy.get(worker);
    busy.delete(worker);
    if (job) job.settle(new JobError(500, `job failed: ${err.message}`));
  });
  worker.on('exit', () => {
    const job = busy.get(worker);
    busy.delete(worker);
    const at = idle.indexOf(worker);
    if (at >= 0) idle.splice(at, 1);
    if (job) job.settle(new JobError(accepting ? 500 : 503, accepting ? 'job failed: the worker thread exited' : 'server is shutting down'));
    if (accepting && !worker.faceoffRetired) release(spawn());
  });
  // The pool's threads never keep the process alive on their own.
  worker.unref();
  return worker;
}

// A worker free for the next job: give it the queue's first, or keep it idle.
function release(worker) {
  const job = queue.shift();
  if (job) start(worker, job);
  else idle.push(worker);
}

function start(worker, job) {
  busy.set(worker, job);
  job.timer = setTimeout(() => {
    busy.delete(worker);
    worker.faceoffRetired = true;
    worker.terminate();
    job.settle(new JobError(504, `job timed out after ${job.timeoutMs} ms`));
    if (accepting) release(spawn());
  }, job.timeoutMs);
  worker.postMessage({ id: job.id, n: job.n });
}

function runLeibnizJob(n, timeoutMs) {
  if (!accepting) return Promise.reject(new JobError(503, 'server is shutting down'));
  return new Promise((resolve, reject) => {
    const job = { id: nextId++, n, timeoutMs, timer: null, settled: false };
    job.settle = (err, result) => {
      if (job.settled) return;
      job.settled = true;
      clearTimeout(job.timer);
      if (err) reject(err);
      else resolve(result);
    };
    const worker = idle.pop();
    if (worker) start(worker, job);
    else queue.push(job);
  });
}

function stopAllJobs() {
  accepting = false;
  for (const job of queue.splice(0)) job.settle(new JobError(503, 'server is shutting down'));
  for (const worker of [...idle, ...busy.keys()]) worker.terminate();
}

for (let i = 0; i < SIZE; i += 1) idle.push(spawn());

module.exports = { runLeibnizJob, stopAllJobs, JobError, POOL_SIZE: SIZE };
