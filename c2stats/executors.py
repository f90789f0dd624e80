"""Where fits run: one interface, three executors.

* :class:`SerialExecutor` fits one model after another in this process.
* :class:`ProcessExecutor` (the default) fits on a local pool of worker processes. The datasets,
  cut down to the columns the models read, reach each worker once: forked workers inherit them
  (Linux with ``threadpoolctl``), others receive them at start-up. Workers run with their
  BLAS/OpenMP threads pinned to 1 (``threadpoolctl`` after a fork; ``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ... set before a forkserver or spawned worker
  starts), so ``jobs`` workers use ``jobs`` cores.
* :class:`DaskExecutor` fits on a Dask distributed cluster: ``scheduler`` is the address of a
  running scheduler (``tcp://host:8786``), or a local cluster of ``jobs`` single-threaded worker
  processes is started. Datasets are scattered to every worker once. Needs the optional extra
  ``pip install 'c2stats[parallel]'``; workers of a remote cluster need the same c2stats and
  library versions (results record the versions they were computed with).

Every executor runs the same function (:func:`fit_task`) on the same inputs and returns the same
:class:`~c2stats.cache.Payload` objects, in task order, so results are byte-identical whichever
runs them (the serial executor also pins BLAS to one thread when ``threadpoolctl`` is installed).
A failing fit is returned with its exception; the others go on. A :class:`Progress` bar shows
fits done, failures and time left.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence

from .cache import Payload, to_payload
from .errors import C2StatsError, C2StatsWarning, ConfigError
from .fitting import fit_model
from .spec import suggest

EXECUTORS = ("serial", "process", "dask")
BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                  "NUMEXPR_NUM_THREADS", "BLIS_NUM_THREADS")
INSTALL_HINT = "install the optional extra: pip install 'c2stats[parallel]' (dask and distributed)"


@dataclass(frozen=True)
class FitTask:
    """One fit: a validated model, the key of its dataset in ``sources`` and the config hash."""

    index: int
    model: Any  #: a validated :class:`~c2stats.config.ModelSpec`
    source: str
    config_hash: str | None = None


# ----------------------------------------------------------------------------------------------
# The function every executor runs
# ----------------------------------------------------------------------------------------------
def fit_task(task: FitTask, dataset) -> Payload:
    """Fit ``task.model`` on ``dataset``; a failure is returned (as the exception), not raised.

    Warnings are captured: c2stats warnings travel in the payload (and are in ``meta['warnings']``).
    """

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fit_model(task.model, dataset, config_hash=task.config_hash)
        except Exception as exc:  # noqa: BLE001 - recorded; the caller decides whether it is fatal
            return Payload(None, _portable(exc), _warnings(caught))
    return to_payload(result, _warnings(caught))


def _warnings(caught) -> tuple[tuple[type, str], ...]:
    return tuple((w.category, str(w.message)) for w in caught if issubclass(w.category, C2StatsWarning))


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (to come back from a worker), else a C2StatsError naming it."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return C2StatsError(f"{type(exc).__name__}: {exc}")


_PINNED = False


def pin_blas_threads() -> None:
    """Limit BLAS/OpenMP thread pools of this process to one thread (once; needs threadpoolctl)."""
    global _PINNED
    if _PINNED:
        return
    _PINNED = True
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=1)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Within the block, BLAS/OpenMP pools use one thread (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1):
        yield


@contextmanager
def _blas_environment() -> Iterator[None]:
    """Set the BLAS thread variables to 1 for processes started inside the block."""
    saved = {k: os.environ.get(k) for k in BLAS_VARIABLES}
    os.environ.update({k: "1" for k in BLAS_VARIABLES})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ----------------------------------------------------------------------------------------------
# Progress
# ----------------------------------------------------------------------------------------------
class Progress:
    """Fits done, failures and time left: a tqdm bar when tqdm is installed, else a status line.

    ``enabled=False`` shows nothing. The line is rewritten in place on a terminal and printed at
    most every 10% otherwise.
    """

    def __init__(self, total: int, *, desc: str = "fits", enabled: bool = True, file=None):
        self.total, self.desc, self.enabled = total, desc, enabled and total > 0
        self.file = file or sys.stderr
        self.done = self.failed = 0
        self.start = time.monotonic()
        self._bar = None
        self._last = -1.0
        if self.enabled:
            try:
                from tqdm import tqdm

                self._bar = tqdm(total=total, desc=desc, unit="fit", file=self.file, dynamic_ncols=True,
                                 smoothing=0.05, postfix="failed=0")
            except ImportError:
                self._bar = None

    def update(self, failed: bool = False) -> None:
        self.done += 1
        self.failed += bool(failed)
        if not self.enabled:
            return
        if self._bar is not None:
            if failed:
                self._bar.set_postfix_str(f"failed={self.failed}", refresh=False)
            self._bar.update(1)
            return
        tty = getattr(self.file, "isatty", lambda: False)()
        step = self.done / self.total
        if not tty and step < 1 and step - self._last < 0.1:
            return
        self._last = step
        elapsed = time.monotonic() - self.start
        left = elapsed / self.done * (self.total - self.done)
        line = f"{self.desc}: {self.done}/{self.total}, {self.failed} failed, ~{math.ceil(left)} s left"
        print(("\r" + line) if tty else line, end="" if tty and self.done < self.total else "\n", file=self.file,
              flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# ----------------------------------------------------------------------------------------------
# Executors
# ----------------------------------------------------------------------------------------------
class Executor:
    """Runs :func:`fit_task` over tasks; subclasses decide where."""

    name = "executor"

    def run(self, tasks: Sequence[FitTask], sources: Mapping[str, Any], progress: Progress | None = None,
            on_done: Callable[[FitTask, Payload], None] | None = None) -> list[Payload]:
        """Payloads of ``tasks`` in task order (``sources`` maps dataset keys to Datasets).

        ``on_done(task, payload)`` is called in this process as each fit completes (in completion
        order), e.g. to cache it at once so that an interrupted run resumes where it stopped.
        """
        raise NotImplementedError

    @staticmethod
    def _collect(tasks: Sequence[FitTask], progress: Progress | None,
                 on_done: Callable[[FitTask, Payload], None] | None = None) -> tuple[dict[int, int], list, Callable]:
        position = {t.index: i for i, t in enumerate(tasks)}
        out: list[Payload | None] = [None] * len(tasks)

        def record(index: int, payload: Payload) -> None:
            out[position[index]] = payload
            if on_done is not None:
                on_done(tasks[position[index]], payload)
            if progress is not None:
                progress.update(failed=not payload.ok)

        return position, out, record


class SerialExecutor(Executor):
    """One fit after another in this process."""

    name = "serial"

    def run(self, tasks, sources, progress=None, on_done=None):
        _, out, record = self._collect(tasks, progress, on_done)
        with single_threaded_blas():
            for task in tasks:
                record(task.index, fit_task(task, sources[task.source]))
        return out


# process pool: worker-side state --------------------------------------------------------------
_SOURCES: dict[str, Any] = {}
_PRELOAD = ["c2stats.pipeline", "c2stats.families"]


def _init_worker(sources: Mapping[str, Any] | None) -> None:
    pin_blas_threads()
    warnings.simplefilter("ignore")  # warnings travel in the payloads
    if sources is not None:  # None: forked, the parent's _SOURCES are inherited
        _SOURCES.clear()
        _SOURCES.update(sources)


def _worker_fit(task: FitTask) -> tuple[int, Payload]:
    return task.index, fit_task(task, _SOURCES[task.source])


def default_start_method() -> str:
    """'fork' on Linux when threadpoolctl can pin BLAS threads after the fork (workers start at once
    and share the parent's datasets); else 'forkserver' (modules preloaded once, BLAS pinned by
    environment variables); 'spawn' where neither exists."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    try:
        import threadpoolctl  # noqa: F401

        pinnable = True
    except ImportError:
        pinnable = False
    if sys.platform.startswith("linux") and pinnable and "fork" in methods:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


class ProcessExecutor(Executor):
    """A local pool of ``jobs`` worker processes (default: the usable cores).

    Parameters
    ----------
    jobs
        Number of workers (at most the number of tasks).
    min_tasks
        With fewer tasks than this, fit in this process instead: starting workers would cost more
        than it saves. Results are the same either way.
    start_method
        'fork', 'forkserver' or 'spawn' (default :func:`default_start_method`). Forked workers
        inherit the datasets; the others receive them once, at start-up.
    """

    name = "process"

    def __init__(self, jobs: int | None = None, *, min_tasks: int = 8, start_method: str | None = None):
        self.jobs = max(1, int(jobs or available_cores()))
        self.min_tasks = min_tasks
        self.start_method = start_method or default_start_method()

    def run(self, tasks, sources, progress=None, on_done=None):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        n = min(self.jobs, len(tasks))
        if n <= 1 or len(tasks) < self.min_tasks:
            return SerialExecutor().run(tasks, sources, progress, on_done)
        _, out, record = self._collect(tasks, progress, on_done)
        used = {t.source for t in tasks}
        shipped = {k: v for k, v in sources.items() if k in used}
        context = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            context.set_forkserver_preload(_PRELOAD)
        forked = self.start_method == "fork"
        if forked:
            _SOURCES.clear()
            _SOURCES.update(shipped)
        try:
            with _blas_environment():
                pool = ProcessPoolExecutor(max_workers=n, mp_context=context, initializer=_init_worker,
                                           initargs=(None if forked else shipped,))
                try:
                    futures = {pool.submit(_worker_fit, t): t.index for t in tasks}
                    for future in as_completed(futures):
                        try:
                            index, payload = future.result()
                        except BrokenProcessPool as exc:
                            index, payload = futures[future], Payload(None, C2StatsError(
                                f"a worker process died ({exc}); the machine may be out of memory: use fewer --jobs"))
                        record(index, payload)
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
                pool.shutdown(wait=True)
        finally:
            if forked:
                _SOURCES.clear()
        return out


def _dask_fit(tasks: list[FitTask], dataset) -> list[tuple[int, Payload]]:
    pin_blas_threads()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(task.index, fit_task(task, dataset)) for task in tasks]


def _chunks(tasks: Sequence[FitTask], workers: int) -> list[list[FitTask]]:
    """Tasks of one dataset in runs of up to 8, about 8 runs per worker or more: fewer round trips
    to the scheduler, and still a balanced end."""
    size = max(1, min(8, len(tasks) // max(1, 8 * workers)))
    by_source: dict[str, list[FitTask]] = {}
    for task in tasks:
        by_source.setdefault(task.source, []).append(task)
    return [group[i:i + size] for group in by_source.values() for i in range(0, len(group), size)]


class DaskExecutor(Executor):
    """Fits on a Dask distributed cluster.

    Parameters
    ----------
    scheduler
        Address of a running scheduler; None starts a local cluster of ``jobs`` worker processes
        with one thread each, closed after the run.
    jobs
        Workers of the local cluster (default: the usable cores).
    client
        An existing ``distributed.Client`` to use (and leave open) instead.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, jobs: int | None = None, *, client=None):
        self.scheduler = scheduler
        self.jobs = max(1, int(jobs or available_cores()))
        self.client = client
        _require_distributed()

    def run(self, tasks, sources, progress=None, on_done=None):
        distributed = _require_distributed()
        if not tasks:
            return []
        _, out, record = self._collect(tasks, progress, on_done)
        client, cluster = self.client, None
        try:
            if client is None:
                with _blas_environment():
                    if self.scheduler:
                        client = distributed.Client(self.scheduler, set_as_default=False)
                    else:
                        import logging

                        with local_cluster_config():
                            cluster = distributed.LocalCluster(n_workers=min(self.jobs, len(tasks)),
                                                               threads_per_worker=1, processes=True,
                                                               dashboard_address=None, silence_logs=logging.ERROR)
                        client = distributed.Client(cluster, set_as_default=False)
            used = sorted({t.source for t in tasks})
            data = {k: client.scatter(sources[k], broadcast=True, hash=False) for k in used}
            token = os.urandom(6).hex()
            workers = max(1, len(client.scheduler_info().get("workers", {})))
            chunks = _chunks(tasks, workers)
            futures = {client.submit(_dask_fit, chunk, data[chunk[0].source], pure=False,
                                     key=f"c2stats-fit-{token}-{chunk[0].index}"): chunk for chunk in chunks}
            for future, value in distributed.as_completed(list(futures), loop=client.loop, with_results=True,
                                                          raise_errors=False):
                if isinstance(value, BaseException) or future.status == "error":
                    error = value if isinstance(value, BaseException) else future.exception()
                    for task in futures[future]:  # a lost worker, a serialisation failure
                        record(task.index, Payload(None, C2StatsError(
                            f"dask could not run the fit: {type(error).__name__}: {error}")))
                    continue
                for index, payload in value:
                    record(index, payload)
        finally:
            if self.client is None and client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
        return out


def local_cluster_config():
    """Dask settings for local workers: BLAS threads 1 and glibc's default malloc trimming.

    Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` in new workers, which disables glibc's
    dynamic mmap threshold: every array of more than 128 KiB is then mapped and unmapped afresh,
    and model fits on tens of thousands of rows ran 2-3 times slower (mostly in page faults).
    """
    import dask

    env = {k: v for k, v in dict(dask.config.get("distributed.nanny.pre-spawn-environ", {})).items()
           if k != "MALLOC_TRIM_THRESHOLD_"}
    env.update({k: 1 for k in BLAS_VARIABLES})
    return dask.config.set({"distributed.nanny.pre-spawn-environ": env})


def _require_distributed():
    try:
        import distributed
    except ImportError:
        raise ConfigError(f"the dask executor needs dask.distributed, which is not installed; {INSTALL_HINT}.") from None
    return distributed


def available_cores() -> int:
    """Cores this process may use (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def make_executor(name: Literal["serial", "process", "dask"] | str | None = None, *, jobs: int | None = None,
                  scheduler: str | None = None) -> Executor:
    """The executor called ``name`` ('serial', 'process' or 'dask'); None means 'dask' when a
    ``scheduler`` address is given, else 'process'."""
    if name is None:
        name = "dask" if scheduler else "process"
    if scheduler and name != "dask":
        raise ConfigError(f"--scheduler {scheduler} needs --executor dask (got --executor {name}).")
    if name == "serial":
        return SerialExecutor()
    if name == "process":
        return ProcessExecutor(jobs)
    if name == "dask":
        return DaskExecutor(scheduler, jobs)

    raise ConfigError(f"unknown executor {name!r}{suggest(name, list(EXECUTORS))}.")
