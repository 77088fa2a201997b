'use strict';

// faceoff target "express": the shared HTTP contract on Express 5, single process.

const http = require('node:http');
const express = require('express');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 3000);
// How long in-flight requests may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE_MS = 2000;

const app = express();
app.disable('x-powered-by');

// Seed 004: the Express and FastAPI `/status` snippet.
app.get('/status', (req, res) => {
  res.json({ service: 'edge-metrics', status: 'ok', t_ms: 4 });
});

// Nothing matched: 404 with a JSON body.
app.use((req, res) => {
  res.status(404).json({ error: 'not found' });
});

// Errors: client errors raised by Express itself (e.g. a malformed URL escape) keep their
// 4xx status; everything else is a 500 that does not leak details.
// eslint-disable-next-line no-unused-vars
app.use((err, req, res, next) => {
  if (res.headersSent) {
    return next(err);
  }
  const status = Number(err.status || err.statusCode);
  if (status >= 400 && status < 500) {
    return res.status(status).json({ error: http.STATUS_CODES[status].toLowerCase() });
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
  // Stop accepting, drop idle keep-alive connections, let in-flight requests finish.
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => {
    server.closeAllConnections();
    process.exit(0);
  }, SHUTDOWN_GRACE_MS).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
