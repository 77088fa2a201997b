'use strict';

// The chat rules of seed 001's Socket.IO sample, with rooms: who is in which room, and what a
// valid join or message is. Plain data, no I/O, so server.js stays about the wiring.

const MAX_NAME = 64;
const MAX_MESSAGE = 1000;

// A non-empty string of at most `max` characters, or an error message.
function text(value, field, max) {
  if (typeof value !== 'string') return `${field} must be a string`;
  if (value.length === 0) return `${field} must not be empty`;
  if (value.length > max) return `${field} must be at most ${max} characters`;
  return null;
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// `join` takes {room, username}; returns an error message or null.
function joinError(data) {
  if (!isObject(data)) return 'join needs an object {room, username}';
  return text(data.room, 'room', MAX_NAME) || text(data.username, 'username', MAX_NAME);
}

// `send_message` takes {message}; returns an error message or null.
function messageError(data) {
  if (!isObject(data)) return 'send_message needs an object {message}';
  return text(data.message, 'message', MAX_MESSAGE);
}

// room -> Map(socket id -> username), in join order.
class Rooms {
  constructor() {
    this.rooms = new Map();
  }

  add(room, id, username) {
    let members = this.rooms.get(room);
    if (!members) {
      members = new Map();
      this.rooms.set(room, members);
    }
    members.set(id, username);
  }

  remove(room, id) {
    const members = this.rooms.get(room);
    if (!members) return;
    members.delete(id);
    if (members.size === 0) this.rooms.delete(room);
  }

  users(room) {
    const members = this.rooms.get(room);
    return members ? Array.from(members.values()) : [];
  }
}

module.exports = { joinError, messageError, Rooms };
