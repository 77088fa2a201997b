'use strict';

// faceoff target "fastify": the shared HTTP contract on Fastify 5, single process.

const http = require('node:http');
const Fastify = require('fastify');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 3000);
// How long in-flight requests may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE_MS = 2000;

const app = Fastify({
  logger: false,
  // Errors Fastify raises before routing (a malformed URL) get the same JSON error shape.
  frameworkErrors: (err, request, reply) => {
    reply.code(400).send({ error: 'bad request' });
  },
});

// Seed 004: the Express and FastAPI `/status` snippet. The response schema lets Fastify
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

// Nothing matched: 404 with a JSON body.
app.setNotFoundHandler((request, reply) => {
  reply.code(404).send({ error: 'not found' });
});

// Errors: client errors raised by Fastify itself (e.g. a malformed body) keep their 4xx
// status; everything else is a 500 that does not leak details.
app.setErrorHandler((err, request, reply) => {
  const status = Number(err.statusCode);
  if (status >= 400 && status < 500) {
    return reply.code(status).send({ error: http.STATUS_CODES[status].toLowerCase() });
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
