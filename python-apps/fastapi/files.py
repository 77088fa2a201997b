"""The file I/O workload (seed 001's `fs.readFile` demo; seed 003's "file operations"):
GET /files/read?kb=N reads a file of N KiB with the framework's usual file API and answers
its bytes as text/plain. At import the server writes one file per size of FILE_SIZES_KB into
a fresh directory under the temp dir (a tmpfs in the container: the read measures the
framework's file API and the kernel's page cache, as any hot file does, not a disk). The
content, the same in every target: LINE repeated, N KiB in all. Another N in range is a 404.

Framework-free; the FastAPI and Django apps carry identical copies (tests/app_sources.rs).
"""

import atexit
import shutil
import tempfile
from pathlib import Path

FILE_SIZES_KB = (1, 64, 1024)
MAX_FILE_KB = 1024
LINE = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n"
CONTENT_TYPE = "text/plain; charset=utf-8"

_DIR = Path(tempfile.mkdtemp(prefix="faceoff-files-"))
for _kb in FILE_SIZES_KB:
    (_DIR / f"{_kb}k.txt").write_bytes(LINE * (_kb * 1024 // len(LINE)))
# The files go with the server process.
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)


class NoSuchFile(Exception):
    """No file of that size: a 404."""


def sized_path(kb: int) -> Path:
    """The path of the file of `kb` KiB (an integer already in 1..=MAX_FILE_KB)."""
    if kb not in FILE_SIZES_KB:
        sizes = ", ".join(str(size) for size in FILE_SIZES_KB)
        raise NoSuchFile(f"no file of {kb} KiB: the sizes are {sizes}")
    return _DIR / f"{kb}k.txt"
