'use strict';

// faceoff service "sharkbench-data": the data server of Sharkbench's web test, which every
// target calls over 127.0.0.1 for the sharkbench workload. Like Sharkbench's own (a small
// hyper server), it answers two fixed JSON documents, read once at start, and counts the
// requests for them:
//   GET /element.json  {symbol: {name, number, group}} for 119 elements (8.6 KB)
//   GET /shells.json   {symbol: [electrons per shell]} (3.3 KB)
//   GET /reset         the count of document requests since the last reset, then 0
//                      (Sharkbench checks the framework fetched once per answer: no cache)
//   GET /status        faceoff's readiness check
// Plain node:http, one process, no dependency.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 3002);
const JSON_TYPE = 'application/json';

const documents = new Map(['element.json', 'shells.json'].map((name) => [
  `/${name}`,
  fs.readFileSync(path.join(__dirname, 'data', name)),
]));
let served = 0;

function send(res, status, body, type = JSON_TYPE) {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': body.length });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = req.url.split('?', 1)[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, Buffer.from('{"error":"method not allowed"}'));
  }
  const document = documents.get(url);
  if (document !== undefined) {
    served += 1;
    return send(res, 200, document);
  }
  if (url === '/reset') {
    const count = served;
    served = 0;
    return send(res, 200, Buffer.from(String(count)), 'text/plain');
  }
  if (url === '/status') {
    return send(res, 200, Buffer.from('{"service":"sharkbench-data","status":"ok"}'));
  }
  return send(res, 404, Buffer.from('{"error":"not found"}'));
});
// Longer than any client's idle timeout: the client closes idle connections, not the server.
server.keepAliveTimeout = 65000;

server.listen(PORT, HOST, () => {
  console.log(`sharkbench-data listening on http://${HOST}:${PORT}`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
