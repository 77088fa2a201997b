"""faceoff target "python-socketio": seed 001's Socket.IO chat on python-socketio, an ASGI app
on uvicorn, one process, with rooms.

  join {room, username}   -> user_joined {room, username} to the others in the room,
                             online_users {room, users} to the whole room
  send_message {message}  -> new_message {room, sender, message, timestamp} to the room
  disconnect              -> user_left {room, username} to the others, online_users

Bad input (a second join, a message before joining, missing or wrong-typed fields, an unknown
event) gets an `error` {error} event on that socket only; it stays connected.
GET /status answers like the HTTP targets, for readiness.
"""

import json
from datetime import datetime, timezone

import socketio

MAX_NAME = 64
MAX_MESSAGE = 1000
STATUS_BODY = json.dumps(
    {"service": "edge-metrics", "status": "ok", "t_ms": 4}, separators=(",", ":")
).encode()

# python-socketio's defaults (ping every 25 s, 1 MB max payload) are left as a production app
# would have them; no client sends an Origin header, so CORS does not apply.
sio = socketio.AsyncServer(async_mode="asgi")

# sid -> (room, username) once joined; room -> {sid: username} in join order.
joined: dict[str, tuple[str, str]] = {}
rooms: dict[str, dict[str, str]] = {}


def text_error(value, field, limit):
    if not isinstance(value, str):
        return f"{field} must be a string"
    if not value:
        return f"{field} must not be empty"
    if len(value) > limit:
        return f"{field} must be at most {limit} characters"
    return None


async def refuse(sid, message):
    await sio.emit("error", {"error": message}, to=sid)


def online(room):
    return {"room": room, "users": list(rooms.get(room, {}).values())}


@sio.on("join")
async def join(sid, data=None):
    if sid in joined:
        return await refuse(sid, "already joined a room")
    if not isinstance(data, dict):
        return await refuse(sid, "join needs an object {room, username}")
    error = text_error(data.get("room"), "room", MAX_NAME) or text_error(
        data.get("username"), "username", MAX_NAME
    )
    if error:
        return await refuse(sid, error)
    room, username = data["room"], data["username"]
    joined[sid] = (room, username)
    rooms.setdefault(room, {})[sid] = username
    await sio.enter_room(sid, room)
    await sio.emit("user_joined", {"room": room, "username": username}, room=room, skip_sid=sid)
    await sio.emit("online_users", online(room), room=room)


@sio.on("send_message")
async def send_message(sid, data=None):
    if sid not in joined:
        return await refuse(sid, "join a room first")
    if not isinstance(data, dict):
        return await refuse(sid, "send_message needs an object {message}")
    error = text_error(data.get("message"), "message", MAX_MESSAGE)
    if error:
        return await refuse(sid, error)
    room, username = joined[sid]
    timestamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    await sio.emit(
        "new_message",
        {"room": room, "sender": username, "message": data["message"], "timestamp": timestamp},
        room=room,
    )


@sio.on("*")
async def unknown(event, sid, *args):
    await refuse(sid, f"unknown event `{event}`")


@sio.event
async def disconnect(sid, *args):
    entry = joined.pop(sid, None)
    if entry is None:
        return
    room, username = entry
    members = rooms.get(room, {})
    members.pop(sid, None)
    if not members:
        rooms.pop(room, None)
    await sio.emit("user_left", {"room": room, "username": username}, room=room, skip_sid=sid)
    await sio.emit("online_users", online(room), room=room)


async def status_app(scope, receive, send):
    """GET /status for readiness; 404 for anything else."""
    if scope["type"] != "http":
        return
    found = scope["method"] == "GET" and scope["path"] == "/status"
    body = STATUS_BODY if found else b'{"error":"not found"}'
    await send(
        {
            "type": "http.response.start",
            "status": 200 if found else 404,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


app = socketio.ASGIApp(sio, other_asgi_app=status_app)
