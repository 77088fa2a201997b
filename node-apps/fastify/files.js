'use strict';

// The file I/O workload (seed 001's `fs.readFile` demo; seed 003's "file operations"):
// GET /files/read?kb=N reads a file of N KiB with fs.promises.readFile and answers its bytes
// as text/plain. At start the server writes one file per size of FILE_SIZES_KB into a fresh
// directory under the temp dir (a tmpfs in the container: the read measures the framework's
// file API and the kernel's page cache, as any hot file does, not a disk). The content, the
// same in every target: LINE repeated, N KiB in all. Another N in range is a 404.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const FILE_SIZES_KB = [1, 64, 1024];
const MAX_FILE_KB = 1024;
const LINE = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceoff-files-'));
for (const kb of FILE_SIZES_KB) {
  fs.writeFileSync(path.join(dir, `${kb}k.txt`), LINE.repeat((kb * 1024) / LINE.length));
}

function httpError(status, message) {
  const err = new Error(message);
  err.status = status;
  err.statusCode = status;
  err.expose = true;
  return err;
}

// The bytes of the file of `kb` KiB (an integer already in 1..=MAX_FILE_KB).
async function readSized(kb) {
  if (!FILE_SIZES_KB.includes(kb)) {
    throw httpError(404, `no file of ${kb} KiB: the sizes are ${FILE_SIZES_KB.join(', ')}`);
  }
  return fs.promises.readFile(path.join(dir, `${kb}k.txt`));
}

// The files go with the server: removed when it exits (SIGTERM from faceoff included, as
// both servers exit through process.exit after closing).
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

module.exports = { readSized, MAX_FILE_KB };
