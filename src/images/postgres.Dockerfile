# PostgreSQL for the db workload, seeded with fixtures/db/world.sql.
# Offline, BASE_IMAGE is faceoff's Debian base (trixie: Debian's postgresql package, 17);
# where a registry answers, BASE_IMAGE=postgres:17 serves as is (the server is already there,
# so the apt step is skipped). Either way the data directory is made and seeded at build time,
# outside any VOLUME, so a container is ready about a second after it starts.
ARG BASE_IMAGE=postgres:17-bookworm
FROM ${BASE_IMAGE}
RUN if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql \
      && rm -rf /var/lib/apt/lists/* /var/lib/postgresql/*/main /etc/postgresql/*/main; \
    fi \
 && mkdir -p /opt/faceoff \
 && ln -s "$(dirname "$(ls /usr/lib/postgresql/*/bin/postgres | sort -V | tail -n 1)")" /opt/faceoff/pgbin \
 && mkdir -p /var/lib/faceoff-pg /var/run/postgresql \
 && chown postgres:postgres /var/lib/faceoff-pg /var/run/postgresql
ENV PATH=/opt/faceoff/pgbin:$PATH PGDATA=/var/lib/faceoff-pg
COPY world.sql /opt/faceoff/world.sql
# No setuid or setgid program left (faceoff also starts it with no capabilities).
RUN find / -xdev -type f -perm /6000 -exec chmod a-s {} +
USER postgres
# Password logins over TCP (the URL faceoff hands the app), trust on the container's own
# socket for the seeding below. pg_stat_statements lets `faceoff verify` count the rows
# every target really reads from the database.
RUN printf 'faceoff\n' > /tmp/pw \
 && initdb --username=postgres --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --pwfile=/tmp/pw >/dev/null \
 && rm /tmp/pw \
 && pg_ctl -w -o "-c listen_addresses='' -c shared_preload_libraries=pg_stat_statements" start >/dev/null \
 && psql -q -v ON_ERROR_STOP=1 -U postgres -c "CREATE ROLE faceoff LOGIN PASSWORD 'faceoff'" -c "CREATE DATABASE faceoff OWNER faceoff" \
 && psql -q -v ON_ERROR_STOP=1 -U postgres -d faceoff -c "CREATE EXTENSION pg_stat_statements" \
 && psql -q -v ON_ERROR_STOP=1 -U faceoff -d faceoff -f /opt/faceoff/world.sql \
 && psql -q -v ON_ERROR_STOP=1 -U faceoff -d faceoff -c "VACUUM ANALYZE world" \
 && pg_ctl -w stop >/dev/null
# On a database host of its own (--services-address), the targets log in from another
# machine: password logins from the networks this host is directly on, never beyond.
RUN printf 'host all all samenet scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
ENV PORT=5432
# Host networking: listen on the address faceoff names (HOST: 127.0.0.1 unless
# --services-address says otherwise) and the port it picked only.
CMD ["sh", "-c", "exec postgres -c listen_addresses=\"${HOST:-127.0.0.1}\" -p \"$PORT\" -c shared_preload_libraries=pg_stat_statements -c max_connections=200 -c unix_socket_directories=/var/run/postgresql"]
