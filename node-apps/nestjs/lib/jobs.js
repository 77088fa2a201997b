'use strict';

// Seed 004's offload pattern: each job runs in its own worker process
// (`child_process.fork` of worker.js), gets its input and returns its result by IPC
// message, and is SIGKILLed when it outlives its timeout. The event loop only waits.

const { fork } = require('node:child_process');
const path = require('node:path');

const WORKER_PATH = path.join(__dirname, 'worker.js');

// Workers still running; killed on shutdown (and, as a last resort, when this process exits).
const running = new Set();
let accepting = true;

class JobError extends Error {
  constructor(statusCode, message) {
    super(message);
    this.name = 'JobError';
    this.statusCode = statusCode;
    this.status = statusCode;
    // The message is meant for the client (a 5xx that explains itself, not an internal error).
    this.expose = true;
  }
}

// Resolves {n, pi}; rejects with a JobError: 504 past timeoutMs, 500 if the worker fails,
// 503 once the server is shutting down.
function runLeibnizJob(n, timeoutMs) {
  if (!accepting) {
    return Promise.reject(new JobError(503, 'server is shutting down'));
  }
  return new Promise((resolve, reject) => {
    const worker = fork(WORKER_PATH, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    running.add(worker);

    let settled = false;
    function settle(err, result) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(result);
    }

    const timer = setTimeout(() => {
      // The worker is stuck in a synchronous loop: only a signal it cannot handle stops it.
      // Node reaps it (no zombie) and its 'close' event below removes it from `running`.
      worker.kill('SIGKILL');
      settle(new JobError(504, `job timed out after ${timeoutMs} ms`));
    }, timeoutMs);

    worker.once('message', (msg) => {
      settle(null, { n, pi: msg.pi });
    });
    worker.once('error', (err) => {
      // Spawning or messaging failed: make sure the process is gone.
      running.delete(worker);
      worker.kill('SIGKILL');
      settle(new JobError(500, `job failed: ${err.message}`));
    });
    // 'close' comes after the exit and after the IPC channel is drained, so a result the
    // worker sent just before exiting has been seen by then.
    worker.once('close', (code, signal) => {
      running.delete(worker);
      if (!accepting) {
        settle(new JobError(503, 'server is shutting down'));
        return;
      }
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const err = new JobError(500, `job failed: the worker ${how} without a result`);
      if (!settled) console.error(err.message);
      settle(err);
    });

    worker.send({ n });
  });
}

// Shutdown: refuse new jobs and kill the running ones (their requests get a 503).
function stopAllJobs() {
  accepting = false;
  for (const worker of running) {
    worker.kill('SIGKILL');
  }
}

process.on('exit', () => {
  for (const worker of running) {
    worker.kill('SIGKILL');
  }
});

module.exports = { runLeibnizJob, stopAllJobs, JobError };
