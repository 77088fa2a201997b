'use strict';

// faceoff target "socketio": seed 001's Socket.IO chat server, one Node process, with rooms.
//   join {room, username}   -> user_joined {room, username} to the others in the room,
//                              online_users {room, users} to the whole room
//   send_message {message}  -> new_message {room, sender, message, timestamp} to the room
//   disconnect              -> user_left {room, username} to the others, online_users
// Bad input (a second join, a message before joining, missing or wrong-typed fields, an
// unknown event) gets an `error` {error} event on that socket only; it stays connected.
// GET /status answers like the HTTP targets, for readiness.

const http = require('node:http');
const { Server } = require('socket.io');
const { joinError, messageError, Rooms } = require('./chat');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 3000);
const KNOWN_EVENTS = new Set(['join', 'send_message']);
const STATUS_BODY = JSON.stringify({ service: 'edge-metrics', status: 'ok', t_ms: 4 });

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/status') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(STATUS_BODY);
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify({ error: 'not found' }));
});

// Socket.IO's defaults (ping every 25 s, 1 MB max payload, polling and websocket) are left
// as a production app would have them.
const io = new Server(server);
const rooms = new Rooms();

io.on('connection', (socket) => {
  // This socket's room and name once it has joined.
  let joined = null;
  const refuse = (message) => socket.emit('error', { error: message });

  socket.onAny((event) => {
    if (!KNOWN_EVENTS.has(event)) refuse(`unknown event \`${event}\``);
  });

  socket.on('join', (data) => {
    if (joined) return refuse('already joined a room');
    const error = joinError(data);
    if (error) return refuse(error);
    const { room, username } = data;
    joined = { room, username };
    rooms.add(room, socket.id, username);
    socket.join(room);
    socket.to(room).emit('user_joined', { room, username });
    io.to(room).emit('online_users', { room, users: rooms.users(room) });
  });

  socket.on('send_message', (data) => {
    if (!joined) return refuse('join a room first');
    const error = messageError(data);
    if (error) return refuse(error);
    io.to(joined.room).emit('new_message', {
      room: joined.room,
      sender: joined.username,
      message: data.message,
      timestamp: new Date().toISOString(),
    });
  });

  socket.on('disconnect', () => {
    if (!joined) return;
    const { room, username } = joined;
    rooms.remove(room, socket.id);
    socket.to(room).emit('user_left', { room, username });
    io.to(room).emit('online_users', { room, users: rooms.users(room) });
  });
});

server.listen(PORT, HOST);

function shutdown() {
  io.close();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
