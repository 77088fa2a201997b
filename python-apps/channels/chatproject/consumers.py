"""Seed 001's chat on Django Channels: the same events as the Socket.IO targets, as Channels
apps send them, one JSON object per WebSocket text frame: {"event": NAME, "data": VALUE}.

  join {room, username}   -> user_joined {room, username} to the others in the room,
                             online_users {room, users} to the whole room
  send_message {message}  -> new_message {room, sender, message, timestamp} to the room
  disconnect              -> user_left {room, username} to the others, online_users

Rooms are channel-layer groups. Bad input (a frame that is not such an object, a second
join, a message before joining, missing or wrong-typed fields, an unknown event) gets an
`error` {error} event on that connection only; it stays open.
"""

import json
from datetime import datetime, timezone

from channels.generic.websocket import AsyncJsonWebsocketConsumer

MAX_NAME = 64
MAX_MESSAGE = 1000

# One process: the members of each room, in join order (channel name -> username).
ROOMS: dict[str, dict[str, str]] = {}


def text_error(value, field, limit):
    if not isinstance(value, str):
        return f"{field} must be a string"
    if not value:
        return f"{field} must not be empty"
    if len(value) > limit:
        return f"{field} must be at most {limit} characters"
    return None


def group_of(room):
    # Group names allow only ASCII letters, digits, '-', '_' and '.', under 100 characters.
    return "room." + room.encode().hex()


class ChatConsumer(AsyncJsonWebsocketConsumer):
    room = None
    username = None

    async def connect(self):
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # A frame that is not JSON is answered, not a reason to drop the connection.
        try:
            content = json.loads(text_data) if text_data is not None else None
        except ValueError:
            content = None
        if not isinstance(content, dict) or not isinstance(content.get("event"), str):
            return await self.refuse('a frame must be a JSON object {"event": name, "data": value}')
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
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
        ROOMS.setdefault(self.room, {})[self.channel_name] = self.username
        await self.channel_layer.group_add(group_of(self.room), self.channel_name)
        await self.broadcast("user_joined", {"room": self.room, "username": self.username}, skip=True)
        await self.broadcast("online_users", self.online())

    async def send_message(self, data):
        if self.room is None:
            return await self.refuse("join a room first")
        if not isinstance(data, dict):
            return await self.refuse("send_message needs an object {message}")
        error = text_error(data.get("message"), "message", MAX_MESSAGE)
        if error:
            return await self.refuse(error)
        timestamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        await self.broadcast(
            "new_message",
            {"room": self.room, "sender": self.username, "message": data["message"], "timestamp": timestamp},
        )

    async def disconnect(self, code):
        if self.room is None:
            return
        members = ROOMS.get(self.room, {})
        members.pop(self.channel_name, None)
        if not members:
            ROOMS.pop(self.room, None)
        await self.channel_layer.group_discard(group_of(self.room), self.channel_name)
        await self.broadcast("user_left", {"room": self.room, "username": self.username})
        await self.broadcast("online_users", self.online())

    def online(self):
        return {"room": self.room, "users": list(ROOMS.get(self.room, {}).values())}

    async def broadcast(self, event, data, skip=False):
        await self.channel_layer.group_send(
            group_of(self.room),
            {"type": "chat.event", "event": event, "data": data, "skip": self.channel_name if skip else None},
        )

    async def chat_event(self, message):
        """A group message: forward it to this client unless it is the one to skip."""
        if message["skip"] != self.channel_name:
            await self.send_json({"event": message["event"], "data": message["data"]})

    async def refuse(self, error):
        await self.send_json({"event": "error", "data": {"error": error}})
