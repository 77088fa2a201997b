"""Settings of the channels-redis target: those of `channels`, with Channels' production
channel layer, channels_redis, on the Redis server whose URL faceoff hands over in REDIS_URL.
There is no fallback to the in-memory layer: without REDIS_URL the app does not start."""

import os

from chatproject.settings import *  # noqa: F401,F403

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [os.environ["REDIS_URL"]]},
    }
}
