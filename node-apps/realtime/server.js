'use strict';

// faceoff service "realtime": seed 001's Node.js realtime service, which the hybrid
// FastAPI endpoint (`GET /hybrid/notifications`) calls over 127.0.0.1. Plain node:http, one
// process: it answers `GET /notifications/{user_id}` with the user's unread (real-time)
// notifications, and `GET /status` for faceoff's readiness check.

const http = require('node:http');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 3001);
const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const JSON_TYPE = 'application/json; charset=utf-8';

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

// The realtime half of seed 001's merged answer: what the Node service holds for a user
// right now (unread), beside the Python side's historical (read) list.
function realtimeNotifications(userId) {
  return [
    { id: 101, message: `Realtime 1 for ${userId}`, read: false },
    { id: 102, message: `Realtime 2 for ${userId}`, read: false },
  ];
}

const server = http.createServer((req, res) => {
  const path = req.url.split('?', 1)[0];
  if (path === '/status') {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
    return send(res, 200, { service: 'realtime', status: 'ok' });
  }
  if (path.startsWith('/notifications/')) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
    const userId = path.slice('/notifications/'.length);
    if (!USER_ID.test(userId)) {
      return send(res, 400, { error: 'user_id must be 1 to 64 letters, digits, _ or -' });
    }
    return send(res, 200, realtimeNotifications(userId));
  }
  return send(res, 404, { error: 'not found' });
});
server.keepAliveTimeout = 65000;

server.listen(PORT, HOST, () => {
  console.log(`realtime listening on http://${HOST}:${PORT}`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
