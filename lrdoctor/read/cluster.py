"""Reading a sweep's runs on Dask distributed: ingest's tasks, on a cluster's workers.

The unit of work is one run (``ingest.load_run`` on one task), independent of the others,
so a sweep is one ``submit`` per run and results come back as each finishes
(``as_completed``), feeding the same progress callback as local reading. A worker needs
lrdoctor installed (the same version: the cache keys carry a digest of its code) and
must reach the runs: object storage through its own credential chain, local paths on a
file system all workers share.

A task that raises (nothing should: a run that cannot be read is a ReadNote) or whose
worker is lost is retried once (``retries=1``; for a worker's death, the scheduler's
``distributed.scheduler.allowed-failures``, set to 1 on a local cluster), then handed
back as its exception, which ingest reports as a read problem of that run alone.

Dask is imported only here, and only when ``--scheduler`` or ``--cluster`` is given.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lrdoctor.errors import InputError
from lrdoctor.words import display

RETRIES = 1


@contextmanager
def executor(scheduler: str | None = None, local_workers: int | None = None) -> Iterator[Callable]:
    """An executor for ``ingest.load``: on the cluster whose scheduler listens at
    ``scheduler`` (``tcp://host:8786``), or on a local cluster of ``local_workers``
    single-threaded worker processes started for this analysis and stopped after it."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("--scheduler and --cluster need Dask distributed: pip install 'lrdoctor[cluster]'") from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as error:
            raise InputError(f"--scheduler {display(scheduler)}: cannot reach the scheduler ({error})") from None
        with client:
            yield _submitter(client)
        return
    # A worker's death is retried once, like a failed task, then reported. The cluster's own
    # log lines (a worker killed at shutdown) would only clutter stderr: errors only.
    with environment_kept(), dask.config.set({"distributed.scheduler.allowed-failures": RETRIES}), LocalCluster(
        n_workers=local_workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as cluster, Client(cluster) as client:
        yield _submitter(client)


@contextmanager
def environment_kept() -> Iterator[None]:
    """This process's environment as it was, after a local cluster: Dask's nanny writes its
    settings for the workers (OMP_NUM_THREADS=1, MKL_NUM_THREADS, OPENBLAS_NUM_THREADS,
    MALLOC_TRIM_THRESHOLD_, PYTHONHASHSEED) into ``os.environ`` and leaves them, and whatever
    the caller starts next (a training run, in a script that analysed first) would inherit
    them: one torch thread, other results."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        for name, value in saved.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


def _submitter(client) -> Callable:
    def run_all(function: Callable, tasks: list) -> Iterator[tuple[int, object]]:
        """(index, result) of each task as it finishes; the exception, for one that failed
        again after its retry (the caller reports it for that task alone)."""
        from distributed import as_completed

        futures = {
            client.submit(function, *task, retries=RETRIES, pure=False): index for index, task in enumerate(tasks)
        }
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 -- a task's failure is its run's, not the sweep's
                result = error
            future.release()  # the result is here: the cluster need not hold it any longer
            yield futures[future], result

    return run_all
