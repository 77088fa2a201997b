'use strict';

// Sharkbench's web test (seed 004's "Fastify 9,340 vs FastAPI 1,185 req/s"): every request
// fetches a JSON document from the data server in SHARKBENCH_DATA_URL with Node's built-in
// fetch (undici, its default keep-alive pool), parses it, and answers a few fields of one
// element. Sharkbench's own Node apps do the same with http.get; fetch is Node's usual client
// today. The data server down or answering badly is a 502, slower than
// SHARKBENCH_DATA_TIMEOUT_MS (2000) a 504, no SHARKBENCH_DATA_URL a 503.

const DATA_URL = process.env.SHARKBENCH_DATA_URL || '';
const TIMEOUT_MS = Number(process.env.SHARKBENCH_DATA_TIMEOUT_MS || 2000);
// An element symbol: one capital letter and up to two small ones.
const SYMBOL = /^[A-Z][a-z]{0,2}$/;

function httpError(status, message) {
  const err = new Error(message);
  err.status = status;
  err.statusCode = status;
  err.expose = true;
  return err;
}

function checkSymbol(symbol) {
  if (typeof symbol !== 'string' || !SYMBOL.test(symbol)) {
    throw httpError(400, 'symbol must be an element symbol, such as He');
  }
}

function failed(err) {
  if (err.name === 'TimeoutError') {
    return httpError(504, `the data server did not answer within ${TIMEOUT_MS} ms`);
  }
  const reason = (err.cause && (err.cause.code || err.cause.message)) || err.message;
  return httpError(502, `the data server is unavailable: ${reason}`);
}

// GET {SHARKBENCH_DATA_URL}/{name}, parsed.
async function fetchDocument(name) {
  if (!DATA_URL) throw httpError(503, 'no data server configured: set SHARKBENCH_DATA_URL');
  let response;
  try {
    response = await fetch(`${DATA_URL}/${name}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    throw failed(err);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw httpError(502, `the data server answered ${response.status}`);
  }
  try {
    return await response.json();
  } catch (err) {
    if (err.name === 'SyntaxError') throw httpError(502, 'the data server answered with something other than JSON');
    throw failed(err);
  }
}

function entryOf(document, symbol) {
  const entry = Object.hasOwn(document, symbol) ? document[symbol] : undefined;
  if (entry === undefined) throw httpError(404, `no element with the symbol ${symbol}`);
  return entry;
}

// GET /api/v1/periodic-table/element?symbol=S -> {name, number, group}
async function element(symbol) {
  checkSymbol(symbol);
  const entry = entryOf(await fetchDocument('element.json'), symbol);
  return { name: entry.name, number: entry.number, group: entry.group };
}

// GET /api/v1/periodic-table/shells?symbol=S -> {shells}
async function shells(symbol) {
  checkSymbol(symbol);
  return { shells: entryOf(await fetchDocument('shells.json'), symbol) };
}

module.exports = { element, shells };
