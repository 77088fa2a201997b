'use strict';

// Seed 001's hybrid notifications endpoint, served by Node alone: the realtime list (which
// the hybrid pair gets from the Node realtime service) and the historical list, merged.

const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;

function badRequest(message) {
  const err = new Error(message);
  err.status = 400;
  err.statusCode = 400;
  err.expose = true;
  return err;
}

function notifications(userId) {
  if (typeof userId !== 'string' || !USER_ID.test(userId)) {
    throw badRequest('user_id must be 1 to 64 letters, digits, _ or -');
  }
  return {
    realtime: [
      { id: 101, message: `Realtime 1 for ${userId}`, read: false },
      { id: 102, message: `Realtime 2 for ${userId}`, read: false },
    ],
    historical: [
      { id: 1, message: 'Historical 1', read: true },
      { id: 2, message: 'Historical 2', read: true },
    ],
    server: 'Node.js',
  };
}

module.exports = { notifications };
