'use strict';

// The contract's plumbing for the Express app (server.js holds the articles' routes): the
// input rules, the 405/404 answers, JSON errors, listening and graceful shutdown. Where
// Express's defaults differ from fixtures/contract.toml, this file follows the contract.

const http = require('node:http');
const express = require('express');

// How long in-flight requests may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE_MS = 2000;
// The contract's bounds.
const MAX_BODY_BYTES = 65536;
const MAX_JOB_N = 1000000000;
const MAX_JOB_TIMEOUT_MS = 10000;
const DEFAULT_JOB_TIMEOUT_MS = 2000;

function httpError(status, message) {
  const err = new Error(message);
  err.status = status;
  err.expose = true;
  return err;
}

// A query integer: plain decimal digits only (not `5.0`, `-5`, `1e3` or empty), in range.
function queryInt(req, name, min, max) {
  const raw = req.query[name];
  if (raw === undefined) throw httpError(400, `query parameter ${name} is required`);
  if (typeof raw !== 'string' || !/^[0-9]+$/.test(raw)) {
    throw httpError(400, `${name} must be plain decimal digits`);
  }
  const value = Number(raw);
  if (value < min || value > max) throw httpError(400, `${name} must be from ${min} to ${max}`);
  return value;
}

// The first middleware: every response names its server, as uvicorn and gunicorn do.
// Node's http module sends no `Server` header, and TechEmpower's verifier fails a response
// without one (fixtures/contract.toml, required_headers).
function serverHeader(req, res, next) {
  res.setHeader('Server', 'Express');
  next();
}

// The last handler of every known path: its other methods get a 405, not Express's 404.
function methodNotAllowed(...allowed) {
  const allow = allowed.join(', ');
  return (req, res) => {
    res.set('Allow', allow).status(405).json({ error: 'method not allowed' });
  };
}

// JSON endpoints take only `application/json` (an optional charset must be utf-8): a body of
// another type, or a body with no type at all, is a 415. No body at all is left to the route.
function isJsonContentType(header) {
  const [type, ...params] = header.split(';');
  if (type.trim().toLowerCase() !== 'application/json') return false;
  return params.every((param) => {
    const [key, value = ''] = param.split('=');
    return key.trim().toLowerCase() !== 'charset'
      || value.trim().replace(/^"(.*)"$/, '$1').toLowerCase() === 'utf-8';
  });
}

function requireJson(req, res, next) {
  const type = req.headers['content-type'];
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined
    || (length !== undefined && length !== '0');
  if (type === undefined ? hasBody : !isJsonContentType(type)) {
    return next(httpError(415, 'content type must be application/json'));
  }
  // A body declared over the limit is a 413 at once. express.json would refuse it too, but
  // only after the whole body arrived (body-parser drains the request before answering):
  // a client that declares 100 KiB and sends nothing would never get an answer. The body
  // is never read, so the connection cannot carry another request.
  if (length !== undefined && Number(length) > MAX_BODY_BYTES) {
    res.set('Connection', 'close');
    return next(httpError(413, `request body larger than ${MAX_BODY_BYTES} bytes`));
  }
  next();
}

// JSON is UTF-8 (RFC 8259). express.json decodes with U+FFFD in place of bytes that are not
// UTF-8, and would accept the damaged text; `verify` sees the raw bytes first, and a body
// that does not decode is malformed (400; body-parser makes a verify error a 403 unless
// it carries its own status).
const utf8 = new TextDecoder('utf-8', { fatal: true });
function verifyUtf8(req, res, buf) {
  try {
    utf8.decode(buf);
  } catch {
    throw httpError(400, 'the body is not valid UTF-8');
  }
}

// Then express.json: 413 past 64 KiB, 400 for malformed JSON; an empty body becomes {}.
const jsonBody = [requireJson, express.json({ limit: MAX_BODY_BYTES, verify: verifyUtf8 })];

// POST /jobs/leibniz's body: {"n": 1..=1e9, "timeout_ms": 1..=10000 (default 2000)}, nothing else.
function validateJob(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw httpError(400, 'the body must be a JSON object');
  }
  for (const key of Object.keys(body)) {
    if (key !== 'n' && key !== 'timeout_ms') throw httpError(400, `unknown field "${key}"`);
  }
  const { n, timeout_ms: timeoutMs = DEFAULT_JOB_TIMEOUT_MS } = body;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_JOB_N) {
    throw httpError(400, `n must be an integer from 1 to ${MAX_JOB_N}`);
  }
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs)
      || timeoutMs < 1 || timeoutMs > MAX_JOB_TIMEOUT_MS) {
    throw httpError(400, `timeout_ms must be an integer from 1 to ${MAX_JOB_TIMEOUT_MS}`);
  }
  return { n, timeoutMs };
}

// After every route. Nothing matched: 404 with a JSON body. Errors: client errors (ours, and
// Express's and express.json's: 400 malformed JSON, 413, 415) and the errors that explain
// themselves (the jobs' 504/500/503, the data services' 502/503/504) keep their status and
// message; anything else is a 500 that does not leak details.
function handleErrors(app) {
  app.use((req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    if (res.headersSent) {
      return next(err);
    }
    const status = Number(err.status || err.statusCode);
    if (status >= 400 && status < 600 && (status < 500 || err.expose)) {
      const message = err.message || http.STATUS_CODES[status].toLowerCase();
      return res.status(status).json({ error: message });
    }
    console.error(err);
    res.status(500).json({ error: 'internal error' });
  });
}

// Listens on HOST:PORT (127.0.0.1:3000 by default) and prints one line. On SIGTERM/SIGINT:
// `beforeClose()` (kill the offload workers: their requests get a 503), stop accepting,
// drop idle keep-alive connections, let in-flight requests finish, then `afterClose()`.
function listen(app, { beforeClose, afterClose }) {
  const host = process.env.HOST || '127.0.0.1';
  const port = Number(process.env.PORT || 3000);
  const server = app.listen(port, host, (err) => {
    if (err) {
      console.error(`express failed to listen on ${host}:${port}: ${err.message}`);
      process.exit(1);
    }
    const { address, port: bound } = server.address();
    const shown = address.includes(':') ? `[${address}]` : address;
    console.log(`express listening on http://${shown}:${bound}`);
  });

  let closing = false;
  function shutdown() {
    if (closing) return;
    closing = true;
    beforeClose();
    server.close(() => afterClose().finally(() => process.exit(0)));
    server.closeIdleConnections();
    setTimeout(() => {
      server.closeAllConnections();
      process.exit(0);
    }, SHUTDOWN_GRACE_MS).unref();
  }
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  return server;
}

module.exports = {
  httpError, queryInt, serverHeader, methodNotAllowed, jsonBody, validateJob, handleErrors, listen,
};
