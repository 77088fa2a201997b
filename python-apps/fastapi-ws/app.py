"""Seed 001's chat on FastAPI's own WebSockets (seed 003: "with Django Channels or FastAPI
WebSockets"): the same events as the other chat targets, in the thin protocol the Channels
target speaks, one JSON object per WebSocket text frame: {"event": NAME, "data": VALUE}.

  join {room, username}   -> user_joined {room, username} to the others in the room,
                             online_users {room, users} to the whole room
  send_message {message}  -> new_message {room, sender, message, timestamp} to the room
  disconnect              -> user_left {room, username} to the others, online_users

One process: rooms are plain dicts of the room's sockets, in join order. Bad input (a frame
that is not such an object, a second join, a message before joining, missing or wrong-typed
fields, an unknown event) gets an `error` {error} event on that connection only; it stays
open.
"""

import json
from datetime import datetime, timezone

from fastapi import FastAPI, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect

MAX_NAME = 64
MAX_MESSAGE = 1000

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

# room -> {member: username}, in join order. Keyed by Member, not WebSocket: Starlette's
# connections are mappings, and so unhashable.
ROOMS: dict[str, dict["Member", str]] = {}


@app.get("/status")
async def status():
    """Readiness, as the HTTP targets answer it."""
    return JSONResponse({"service": "edge-metrics", "status": "ok", "t_ms": 4})


def text_error(value, field, limit):
    if not isinstance(value, str):
        return f"{field} must be a string"
    if not value:
        return f"{field} must not be empty"
    if len(value) > limit:
        return f"{field} must be at most {limit} characters"
    return None


def frame(event, data):
    return json.dumps({"event": event, "data": data}, separators=(",", ":"))


async def broadcast(room, event, data, skip=None):
    """Sends one event to every member of `room` but `skip`, serialised once. A member whose
    connection just closed is left to its own disconnect."""
    text = frame(event, data)
    for member in list(ROOMS.get(room, {})):
        if member is skip:
            continue
        try:
            await member.socket.send_text(text)
        except Exception:  # noqa: BLE001 - a closing peer is not this sender's failure
            pass


class Member:
    def __init__(self, socket: WebSocket):
        self.socket = socket
        self.room = None
        self.username = None

    async def refuse(self, error):
        await self.socket.send_text(frame("error", {"error": error}))

    def online(self):
        return {"room": self.room, "users": list(ROOMS.get(self.room, {}).values())}

    async def receive(self, text):
        # A frame that is not JSON is answered, not a reason to drop the connection.
        try:
            content = json.loads(text) if text is not None else None
        except ValueError:
            content = None
        if not isinstance(content, dict) or not isinstance(content.get("event"), str):
            return await self.refuse('a frame must be a JSON object {"event": name, "data": value}')
        event, data = content["event"], content.get("data")
        if event == "join":
            await self.join(data)
        elif event == "send_message":
            await self.send_message(data)
        else:
            await self.refuse(f"unknown event `{event}`")

    async def join(self, data):
        if self.room is not None:
            return await self.refuse("already joined a room")
        if not isinstance(data, dict):
            return await self.refuse("join needs an object {room, username}")
        error = text_error(data.get("room"), "room", MAX_NAME) or text_error(
            data.get("username"), "username", MAX_NAME
        )
        if error:
            return await self.refuse(error)
        self.room, self.username = data["room"], data["username"]
        ROOMS.setdefault(self.room, {})[self] = self.username
        await broadcast(self.room, "user_joined", {"room": self.room, "username": self.username}, skip=self)
        await broadcast(self.room, "online_users", self.online())

    async def send_message(self, data):
        if self.room is None:
            return await self.refuse("join a room first")
        if not isinstance(data, dict):
            return await self.refuse("send_message needs an object {message}")
        error = text_error(data.get("message"), "message", MAX_MESSAGE)
        if error:
            return await self.refuse(error)
        timestamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        await broadcast(
            self.room,
            "new_message",
            {"room": self.room, "sender": self.username, "message": data["message"], "timestamp": timestamp},
        )

    async def leave(self):
        if self.room is None:
            return
        members = ROOMS.get(self.room, {})
        members.pop(self, None)
        if not members:
            ROOMS.pop(self.room, None)
        await broadcast(self.room, "user_left", {"room": self.room, "username": self.username})
        await broadcast(self.room, "online_users", self.online())


@app.websocket("/ws/chat/")
async def chat(socket: WebSocket):
    await socket.accept()
    member = Member(socket)
    try:
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                break
            await member.receive(message.get("text"))
    except (WebSocketDisconnect, RuntimeError):
        # RuntimeError: a send on a socket the peer already closed.
        pass
    finally:
        await member.leave()
