// The contract's plumbing for the NestJS app (controllers.js holds the articles' routes):
// the input rules, the JSON body reader, the 405/404 answers and JSON errors, the same on
// both of Nest's HTTP adapters. Where Nest's defaults differ from fixtures/contract.toml,
// this file follows the contract.

import http from 'node:http';
import { Catch, HttpException, NotFoundException, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { decorate } from './decorate.js';

// The contract's bounds.
export const MAX_BODY_BYTES = 65536;
const MAX_JOB_N = 1000000000;
const MAX_JOB_TIMEOUT_MS = 10000;
const DEFAULT_JOB_TIMEOUT_MS = 2000;

export function httpError(status, message, extra = {}) {
  const err = new Error(message);
  err.status = status;
  err.statusCode = status;
  err.expose = true;
  return Object.assign(err, extra);
}

// A query integer: plain decimal digits only (not `5.0`, `-5`, `1e3` or empty), in range.
// A key given twice is an array on both adapters, and refused.
export function queryInt(raw, name, min, max) {
  if (raw === undefined) throw httpError(400, `query parameter ${name} is required`);
  if (typeof raw !== 'string' || !/^[0-9]+$/.test(raw)) {
    throw httpError(400, `${name} must be plain decimal digits`);
  }
  const value = Number(raw);
  if (value < min || value > max) throw httpError(400, `${name} must be from ${min} to ${max}`);
  return value;
}

// Every response names its server, as uvicorn and gunicorn do: Node's http module sends no
// `Server` header, and TechEmpower's verifier fails a response without one
// (fixtures/contract.toml, required_headers). Nest middleware (`app.use`), which runs on
// the Node response on both adapters, unmatched routes included.
export function serverHeader(req, res, next) {
  res.setHeader('Server', 'NestJS');
  next();
}

// JSON endpoints take only `application/json` (an optional charset must be utf-8).
function isJsonContentType(header) {
  const [type, ...params] = header.split(';');
  if (type.trim().toLowerCase() !== 'application/json') return false;
  return params.every((p) => {
    const [key, value = ''] = p.split('=');
    return key.trim().toLowerCase() !== 'charset'
      || value.trim().replace(/^"(.*)"$/, '$1').toLowerCase() === 'utf-8';
  });
}

// Rejects `__proto__` keys anywhere, as Fastify's JSON parser does by default against
// prototype poisoning (JSON.parse makes such a key an own property).
function refuseProto(key, value) {
  if (key === '__proto__') throw httpError(400, 'a key may not be named __proto__');
  return value;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

// The JSON body of a request, read by the handler itself: main.js turns Nest's body parsers
// off on both adapters, so that both apply the same rules, in this order:
// - a body of another content type, or with none, is a 415 before it is read;
// - a `Content-Length` over 64 KiB is a 413 at once, with `Connection: close` (the body is
//   never read, so the connection cannot carry another request); a chunked body is read
//   like any other, and is a 413 once it passes 64 KiB;
// - bytes that are not UTF-8, or malformed JSON, are a 400;
// - no body at all (or an empty one) is `undefined`, left to the route.
// `req` is Express's request or Fastify's (whose Node request is `req.raw`).
export function readJsonBody(req) {
  const raw = req.raw ?? req;
  const type = raw.headers['content-type'];
  const length = raw.headers['content-length'];
  const hasBody = raw.headers['transfer-encoding'] !== undefined
    || (length !== undefined && length !== '0');
  if (type === undefined ? hasBody : !isJsonContentType(type)) {
    return Promise.reject(httpError(415, 'content type must be application/json'));
  }
  if (length !== undefined && Number(length) > MAX_BODY_BYTES) {
    return Promise.reject(tooLarge());
  }
  if (!hasBody) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    function cleanup() {
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
    }
    function onData(chunk) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Stop reading; the 413 closes the connection.
        cleanup();
        raw.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    }
    function onEnd() {
      cleanup();
      try {
        resolve(parseJson(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    }
    function onError(err) {
      cleanup();
      reject(httpError(400, `the body could not be read: ${err.message}`));
    }
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('error', onError);
  });
}

function tooLarge() {
  return httpError(413, `request body larger than ${MAX_BODY_BYTES} bytes`, { closeConnection: true });
}

function parseJson(bytes) {
  if (bytes.length === 0) return undefined;
  let text;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw httpError(400, 'the body is not valid UTF-8');
  }
  try {
    return JSON.parse(text, refuseProto);
  } catch (err) {
    if (err.status) throw err;
    throw httpError(400, `malformed JSON: ${err.message}`);
  }
}

// POST /jobs/leibniz's body: {"n": 1..=1e9, "timeout_ms": 1..=10000 (default 2000)}, nothing else.
export function validateJob(body) {
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

// Every path the controllers serve and its methods (HEAD with GET, as both adapters
// answer it), read from the metadata Nest's route decorators leave: a method Nest has no
// route for on one of these paths is a 405, not Nest's 404.
export function knownRoutes(controllers) {
  const routes = new Map();
  for (const controller of controllers) {
    const base = Reflect.getMetadata(PATH_METADATA, controller) || '';
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = controller.prototype[name];
      const method = typeof handler === 'function' && Reflect.getMetadata(METHOD_METADATA, handler);
      if (method === undefined || method === false) continue;
      const sub = Reflect.getMetadata(PATH_METADATA, handler) || '';
      const path = `/${[base, sub].map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/')}`;
      const methods = routes.get(path) || new Set();
      methods.add(RequestMethod[method]);
      if (method === RequestMethod.GET) methods.add('HEAD');
      routes.set(path, methods);
    }
  }
  return routes;
}

// The one exception filter, global: every error is `{"error": message}` with the
// contract's status. Client errors (ours, Nest's and the adapters': 400, 404, 413, 415)
// and the errors that explain themselves (the jobs' 504/500/503, the data services'
// 502/503/504) keep their status and message; anything else is a 500 that does not leak
// details. Nest's own 404 for a request no route matched becomes a 405, with `Allow`,
// when the path is known.
export class ContractExceptionFilter {
  constructor(httpAdapter, routes) {
    this.httpAdapter = httpAdapter;
    this.routes = routes;
  }

  catch(exception, host) {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest();
    const res = ctx.getResponse();
    const adapter = this.httpAdapter;
    let status;
    let message;
    if (exception instanceof HttpException) {
      status = exception.getStatus();
      message = exception.message;
    } else {
      status = Number(exception?.status || exception?.statusCode);
      if (!(status >= 400 && status < 600 && (status < 500 || exception.expose))) {
        console.error(exception);
        status = 500;
        message = 'internal error';
      } else {
        message = exception.message;
      }
    }
    if (exception instanceof NotFoundException) {
      const path = adapter.getRequestUrl(req).split('?', 1)[0];
      const allowed = this.routes.get(path);
      if (allowed && !allowed.has(adapter.getRequestMethod(req))) {
        adapter.setHeader(res, 'Allow', [...allowed].join(', '));
        status = 405;
        message = 'method not allowed';
      } else {
        message = 'not found';
      }
    }
    if (exception?.closeConnection) adapter.setHeader(res, 'Connection', 'close');
    adapter.reply(res, { error: message || http.STATUS_CODES[status].toLowerCase() }, status);
  }
}
decorate(ContractExceptionFilter, [Catch()]);
