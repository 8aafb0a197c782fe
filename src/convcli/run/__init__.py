"""One run of ``apply``: what is done, planned from headers, executed job by job.

Modules, from the bottom up: ``model`` (what is done and how: settings,
stages, an input's plan, jobs, run options), ``prepare`` (an input's plan
from its header alone), ``output`` and ``pipeline`` (one input's pixels,
through every stage, to its file), ``tiling``, ``headers``, ``jobs``,
``checks`` and ``planning`` (a run's jobs, named and checked before
anything is written), ``job`` (one job's execution), ``executors`` (where
the jobs run: here or in worker processes) and ``batch`` (the loop: order,
signals, ``fail_fast``, leftovers). None imports a backend: a Dask executor
is built in :mod:`convcli.distributed` and handed in.
"""
