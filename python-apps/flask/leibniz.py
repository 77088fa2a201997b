"""Seed 004's compute test (the Sharkbench Leibniz series) and its offloaded variant.

`leibniz(n)` is the loop every target runs in this exact order of operations, so they
all return the same double. `run_job(n, timeout_s)` runs it in a separate worker process
per job, as seed 004's `multiprocessing.Process` snippet does: start, `join(timeout)`,
`terminate()` past the timeout.

This module imports nothing from the web framework: the worker processes import it (the
forkserver preloads it once), so it must stay cheap to import.
"""

import multiprocessing
import sys

# The start method is chosen on purpose (see README.md, "Offload"): "forkserver" forks each
# job from a small single-threaded server process started fresh (exec) on first use, so a
# job never inherits the web server's threads, event loop or sockets; "fork" would copy
# the multi-threaded server process (unsafe: locks held by other threads at fork time,
# and Python 3.12+ warns about it), "spawn" starts a new interpreter per job (slow).
START_METHOD = "forkserver"

_CONTEXT = multiprocessing.get_context(START_METHOD)
if START_METHOD == "forkserver":
    # Import once in the forkserver what every job process would otherwise import again:
    # this module, and the server's entry module. multiprocessing re-runs the entry
    # script (uvicorn's or gunicorn's `bin/` script) as `__mp_main__` in each job
    # process; with the module that script imports already loaded, that is cheap
    # (~15 ms per job instead of ~150 ms). Preloading "__main__" does not help: CPython
    # (3.11 to 3.13) never hands the forkserver the main path it would need.
    _SERVER_ENTRY_MODULES = ("uvicorn.main", "gunicorn.app.wsgiapp")
    _CONTEXT.set_forkserver_preload(
        [name for name in _SERVER_ENTRY_MODULES if name in sys.modules] + [__name__]
    )

# Grace period between terminate() (SIGTERM) and kill() (SIGKILL).
_TERMINATE_GRACE_S = 1.0


def leibniz(n):
    """Seed 004 / Sharkbench: pi by the first n terms of the Leibniz series."""
    s = 0.0
    sign = 1.0
    for k in range(n):
        s += sign / (2 * k + 1)
        sign = -sign
    return 4 * s


class JobTimeout(Exception):
    """The job did not finish in time; its process was killed."""


class JobFailed(Exception):
    """The worker process crashed or could not be started."""


def _worker(n, output):
    """Runs in the worker process: compute, send the result, exit."""
    try:
        output.send(("ok", leibniz(n)))
    except BaseException as exc:  # report, then exit non-zero
        output.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        output.close()


def run_job(n, timeout_s):
    """Seed 004's pattern: one worker process per job, join with a timeout, terminate.

    Blocks the calling thread until the job ends (async callers run it in a thread).
    Returns pi; raises JobTimeout (the process is terminated and reaped) or JobFailed.
    The result travels over a one-way Pipe: a Pipe has no feeder thread (a Queue has),
    and one small message fits its buffer, so joining before reading cannot deadlock.
    """
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(target=_worker, args=(n, sender), daemon=True)
    try:
        try:
            process.start()
        except OSError as exc:
            raise JobFailed(f"could not start a worker process: {exc}") from exc
        finally:
            sender.close()  # the child has its own copy now
        process.join(timeout=timeout_s)
        if process.is_alive():
            process.terminate()
            process.join(_TERMINATE_GRACE_S)
            if process.is_alive():
                process.kill()
                process.join()
            raise JobTimeout()
        try:
            message = receiver.recv() if receiver.poll() else None
        except EOFError:  # the worker died before sending anything
            message = None
        if message is not None and message[0] == "ok" and process.exitcode == 0:
            return message[1]
        if message is not None and message[0] == "error":
            raise JobFailed(f"worker failed: {message[1]}")
        raise JobFailed(f"worker exited with code {process.exitcode}")
    finally:
        receiver.close()
        if process.exitcode is not None:  # started and reaped
            process.close()


# ---------------------------------------------------------------- persistent pool
# The fastapi-offload-pool target: the same loop on a concurrent.futures.ProcessPoolExecutor
# of JOB_POOL_WORKERS processes (default: one per CPU this process may run on), started once
# and reused, instead of a process per job (seed 004's "use multiprocessing for CPU work
# and cap worker processes at CPU count"). A pool cannot cancel a call that is running, so a
# job past its timeout kills the pool's processes and a fresh pool takes the next jobs;
# other jobs running in the old pool at that moment fail (500), which is the price of the
# pattern and the reason the per-job process is the contract's default.

import concurrent.futures  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402


def pool_size():
    """JOB_POOL_WORKERS, else the CPUs of this process's affinity mask (the cpuset)."""
    try:
        asked = int(os.environ.get("JOB_POOL_WORKERS", ""))
    except ValueError:
        asked = 0
    return asked if asked > 0 else len(os.sched_getaffinity(0))


_pool = None
_pool_lock = threading.Lock()


def _current_pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ProcessPoolExecutor(max_workers=pool_size(), mp_context=_CONTEXT)
        return _pool


def _discard(pool):
    """Kills `pool`'s processes (the one stuck past its timeout among them)."""
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def run_job_pooled(n, timeout_s):
    """`run_job` on the persistent pool: blocks the calling thread; returns pi or raises
    JobTimeout (the pool is replaced) or JobFailed."""
    pool = _current_pool()
    try:
        future = pool.submit(leibniz, n)
    except (RuntimeError, concurrent.futures.BrokenExecutor) as exc:
        raise JobFailed(f"the worker pool is unavailable: {exc}") from exc
    try:
        return future.result(timeout=timeout_s)
    except concurrent.futures.TimeoutError:
        _discard(pool)
        raise JobTimeout() from None
    except concurrent.futures.BrokenExecutor as exc:
        _discard(pool)
        raise JobFailed(f"the worker pool broke: {exc}") from exc


def shutdown_pool():
    """On server shutdown: stop the pool's processes."""
    with _pool_lock:
        pool = _pool
    if pool is not None:
        _discard(pool)
