"""A job's process exits only once Arrow's worker threads are done with Python objects.

pandas hands Arrow an open Python file for every local Parquet read and write, so Arrow's thread
pools call into Python on their own threads: they read through the file and, once a read is
complete, drop the file and the buffers read from it, which takes the GIL. That dropping can run
on a worker after `pd.read_parquet` has returned. If it comes after Python 3.11 has begun
finalizing, the interpreter ends the worker with pthread_exit from inside a C++ destructor, and
unwinding a (noexcept) destructor calls std::terminate: the job aborts with SIGABRT after its work
is done ("terminate called without an active exception"). Exit handlers run while the interpreter is still whole, so one
that waits until both of Arrow's global pools have no task queued or running closes that window.

pyarrow does not expose the pools' task counts, so they are read through libarrow's C++ entry
points (Itanium ABI names, as on Linux and macOS); test_runtime checks they resolve.
"""

import atexit
import ctypes
import sys
import time
from collections.abc import Callable

CPU_POOL = "_ZN5arrow8internal16GetCpuThreadPoolEv"  # arrow::internal::GetCpuThreadPool()
IO_POOL = "_ZN5arrow2io8internal15GetIOThreadPoolEv"  # arrow::io::internal::GetIOThreadPool()
NUM_TASKS = "_ZN5arrow8internal10ThreadPool11GetNumTasksEv"  # arrow::internal::ThreadPool::GetNumTasks()
WAIT_LIMIT_S = 30.0


def arrow_task_counter() -> Callable[[], int]:
    """A function that returns how many tasks are queued or running in Arrow's CPU and I/O pools.

    A pool counts a task until it has returned and its captured state (files, buffers) is destroyed.
    """
    import pyarrow.lib

    lib = ctypes.CDLL(pyarrow.lib.__file__)  # symbol look-ups also search its dependency libarrow
    num_tasks = lib[NUM_TASKS]
    num_tasks.restype, num_tasks.argtypes = ctypes.c_int, [ctypes.c_void_p]
    pools = []
    for name in (CPU_POOL, IO_POOL):
        get_pool = lib[name]
        get_pool.restype, get_pool.argtypes = ctypes.c_void_p, []
        pools.append(get_pool())
    return lambda: sum(num_tasks(pool) for pool in pools)


def wait_for_arrow_pools(limit_s: float = WAIT_LIMIT_S) -> None:
    """Return once Arrow's pools are idle, sleeping meanwhile so that their workers can take the GIL.

    After `limit_s` it gives up with a line on stderr, and the exit goes on as it would without it.
    """
    if "pyarrow" not in sys.modules:
        return  # Arrow never ran in this process
    busy = arrow_task_counter()
    deadline = time.monotonic() + limit_s
    while busy():
        if time.monotonic() > deadline:
            print(f"Arrow's thread pools still busy after {limit_s:.0f} s; exiting anyway", file=sys.stderr)
            return
        time.sleep(0.001)


def wait_at_exit() -> None:
    """Have the interpreter run `wait_for_arrow_pools` at exit, before its teardown (once, however often called)."""
    atexit.unregister(wait_for_arrow_pools)
    atexit.register(wait_for_arrow_pools)
