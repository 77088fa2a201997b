# Redis for the channels-redis target's channel layer (channels_redis).
# Offline, BASE_IMAGE is faceoff's Debian base (trixie: Debian's redis-server package);
# where a registry answers, BASE_IMAGE=redis:8-bookworm serves as is (the server is already
# there, so the apt step is skipped). No persistence: a channel layer holds messages in flight.
ARG BASE_IMAGE=redis:8-bookworm
FROM ${BASE_IMAGE}
RUN if ! command -v redis-server >/dev/null 2>&1; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
      && rm -rf /var/lib/apt/lists/*; \
    fi
# No setuid or setgid program left (faceoff also starts it with no capabilities).
RUN find / -xdev -type f -perm /6000 -exec chmod a-s {} +
USER 65534
ENV PORT=6379
# Host networking: listen on 127.0.0.1 and the port faceoff picked only; no snapshots, no
# append-only file, a working directory nobody may write to but /tmp.
CMD ["sh", "-c", "exec redis-server --bind 127.0.0.1 --port \"$PORT\" --protected-mode yes --save '' --appendonly no --dir /tmp --logfile ''"]
