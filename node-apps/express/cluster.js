'use strict';

// faceoff's cluster variants (targets express-cluster, fastify-cluster): the same server.js
// under node:cluster, one worker process per CPU, as seeds 002, 003 and 004 scale Node
// ("the cluster module spawns multiple processes across CPU cores, each running its own
// event loop"). `node cluster.js N` starts N workers; without N, one per CPU this process
// may run on (os.availableParallelism() follows the affinity mask: the container's cpuset).
// The primary accepts connections and hands them to the workers in turn (Node's default
// round-robin scheduling on Linux). A worker that dies is replaced, as a process manager
// would; on SIGTERM/SIGINT every worker gets SIGTERM and closes as server.js does alone.
//
// State: each worker has its own memory, so the orders inventory (orders.js) would be one
// copy per worker and could be oversold; faceoff does not serve the orders workload on
// these targets (fixtures/targets.toml, `refuses`).

const cluster = require('node:cluster');
const os = require('node:os');

if (cluster.isPrimary) {
  const asked = Number.parseInt(process.argv[2] ?? '', 10);
  const count = Number.isInteger(asked) && asked > 0 ? asked : os.availableParallelism();
  let stopping = false;
  const stop = () => {
    stopping = true;
    const workers = Object.values(cluster.workers);
    if (workers.length === 0) process.exit(0);
    for (const worker of workers) worker.process.kill('SIGTERM');
    // A worker stuck in a handler does not hold the container past its stop timeout.
    setTimeout(() => process.exit(0), 5000).unref();
  };
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers).length === 0) process.exit(0);
      return;
    }
    console.error(`worker ${worker.process.pid} exited (${signal || code}); starting another`);
    cluster.fork();
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.log(`cluster primary ${process.pid}: ${count} worker(s)`);
  for (let i = 0; i < count; i += 1) cluster.fork();
} else {
  require('./server');
}
