'use strict';

// Offload worker: one process per job, forked by jobs.js (seed 004's `fork('./worker.js')`).
// It gets {n} over IPC, computes, sends {n, pi} back and exits by closing its IPC channel.
// It never outlives its job for long: the server SIGKILLs it on timeout or shutdown, and if
// the server itself dies the closed channel ends this process once the loop returns.

const { leibniz } = require('./leibniz');

process.once('message', ({ n }) => {
  const pi = leibniz(n);
  // If the server died meanwhile the channel is closed: nothing to send, the process ends.
  if (!process.connected) return;
  process.send({ n, pi }, () => {
    if (process.connected) process.disconnect();
  });
});
