'use strict';

// The contract's plumbing for the Fastify app (server.js holds the articles' routes):
// Fastify's options, the 405/404 answers, the content types, the input rules, JSON errors,
// listening and graceful shutdown. Where Fastify's defaults differ from
// fixtures/contract.toml, this file follows the contract.

const http = require('node:http');

// How long in-flight requests may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE_MS = 2000;
// The contract's bounds.
const MAX_BODY_BYTES = 65536;

function httpError(statusCode, message) {
  const err = new Error(message);
  err.statusCode = statusCode;
  err.expose = true;
  return err;
}

// A query integer: plain decimal digits only (not `5.0`, `-5`, `1e3` or empty); the schema
// checks the form, the handler the range.
const digits = { type: 'string', pattern: '^[0-9]+$' };
function inRange(raw, name, min, max) {
  const value = Number(raw);
  if (value < min || value > max) throw httpError(400, `${name} must be from ${min} to ${max}`);
  return value;
}

// The `Server` header of every response: Fastify sends none, and TechEmpower's verifier
// fails a response without one (fixtures/contract.toml, required_headers). uvicorn and
// gunicorn send their name; so does this app.
const SERVER = 'Fastify';

// `Fastify(options)`.
const options = {
  logger: false,
  // Past 64 KiB a body is a 413.
  bodyLimit: MAX_BODY_BYTES,
  // Validate, don't fix up: Fastify's Ajv defaults would coerce "2" to 2 and silently drop
  // unknown fields; the contract wants both refused with a 400.
  ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  // Errors Fastify raises before routing (a malformed URL) get the same JSON error shape.
  frameworkErrors: (err, request, reply) => {
    reply.code(400).header('server', SERVER).send({ error: 'bad request' });
  },
};

// Bodies: JSON only, with an optional charset that must be utf-8.
function hasUtf8Charset(header) {
  return header.split(';').slice(1).every((param) => {
    const [key, value = ''] = param.split('=');
    return key.trim().toLowerCase() !== 'charset'
      || value.trim().replace(/^"(.*)"$/, '$1').toLowerCase() === 'utf-8';
  });
}

// Everything the contract needs before the first route is added: 405 for a known path's
// other methods, JSON-only bodies, JSON errors, and the shutdown hooks (`beforeClose`: kill
// the offload workers, so their requests get a 503 now rather than at their timeout;
// `afterClose`: close the database pool).
function install(app, { beforeClose, afterClose }) {
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
  // First of all hooks, so that every answer has it, 404s and errors included (Fastify's
  // error handling keeps the headers already set, but for the content type and length).
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('server', SERVER);
    done();
  });
  // Decide 404/405 on the method and path alone, before Fastify reads a body for the
  // not-found route (which could otherwise answer 400 or 413 first).
  app.addHook('onRequest', async (request, reply) => {
    if (request.is404) return notFound(request, reply);
  });

  // Without the default text/plain parser a text body is a 415, like any other type (and
  // like a body with no content type). An empty JSON body is "no body" (Fastify's parser
  // would refuse it).
  app.removeAllContentTypeParsers();
  const parseJson = app.getDefaultJsonParser(
    app.initialConfig.onProtoPoisoning,
    app.initialConfig.onConstructorPoisoning,
  );
  // JSON is UTF-8 (RFC 8259): the body is read as bytes and decoded strictly, since
  // `parseAs: 'string'` would put U+FFFD in place of bytes that are not UTF-8 and accept
  // the damaged text; such a body is malformed (400).
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if (!hasUtf8Charset(request.headers['content-type'])) {
      done(httpError(415, 'content type must be application/json'), undefined);
    } else if (body.length === 0) {
      done(null, undefined);
    } else {
      let text;
      try {
        text = utf8.decode(body);
      } catch {
        done(httpError(400, 'the body is not valid UTF-8'), undefined);
        return;
      }
      parseJson(request, text, done);
    }
  });

  app.addHook('preClose', async () => {
    beforeClose();
  });
  app.addHook('onClose', async () => {
    await afterClose();
  });

  // Errors: client errors (ours, and Fastify's: schema validation, malformed JSON, 413, 415)
  // and the errors that explain themselves (the jobs' 504/500/503, the data services'
  // 502/503/504) keep their status and message; anything else is a 500 that does not leak
  // details.
  app.setErrorHandler((err, request, reply) => {
    const status = Number(err.statusCode);
    if (status >= 400 && status < 600 && (status < 500 || err.expose)) {
      const message = err.message || http.STATUS_CODES[status].toLowerCase();
      return reply.code(status).send({ error: message });
    }
    console.error(err);
    return reply.code(500).send({ error: 'internal error' });
  });
}

// Listens on HOST:PORT (127.0.0.1:3000 by default) and prints one line. On SIGTERM/SIGINT:
// stop accepting, drop idle keep-alive connections, let in-flight requests finish.
function listen(app) {
  const host = process.env.HOST || '127.0.0.1';
  const port = Number(process.env.PORT || 3000);

  let closing = false;
  function shutdown() {
    if (closing) return;
    closing = true;
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

  app.listen({ host, port }).then(() => {
    const { address, port: bound } = app.server.address();
    const shown = address.includes(':') ? `[${address}]` : address;
    console.log(`fastify listening on http://${shown}:${bound}`);
  }, (err) => {
    console.error(`fastify failed to listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  });
}

module.exports = {
  httpError, digits, inRange, options, install, listen,
};
