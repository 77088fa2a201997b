# Offline Python base: Debian minbase + the distribution's python3 and venv (3.13 on trixie).
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
ARG PACKAGES="python3 python3-venv"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${PACKAGES} \
 && rm -rf /var/lib/apt/lists/* \
 && python3 --version
CMD ["python3"]
