"""Batches on a Dask cluster: what the local batch promises, on workers that may die."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import SAMPLES, save_zarr

distributed = pytest.importorskip(
    "distributed", reason='needs the distributed extra: pip install ".[distributed]"'
)

KERNEL = "gaussian:sigma=3"


@pytest.fixture(scope="module")
def cluster():
    """One local cluster on 127.0.0.1 for the module: 2 worker processes of 1 thread."""
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                 silence_logs=logging.ERROR) as local,
        distributed.Client(local) as client,
    ):  # fmt: skip
        yield local.scheduler_address, client


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Twelve 768x768 RGB PNGs (slow enough to interrupt) and one broken file."""
    folder = tmp_path_factory.mktemp("photos")
    with Image.open(SAMPLES / "astronaut.png") as image:
        base = np.asarray(image.resize((768, 768)))
    for i in range(12):
        Image.fromarray(np.roll(base, 5 * i, axis=1)).save(folder / f"img{i:02d}.png",
                                                           compress_level=1)  # fmt: skip
    (folder / "img05b.png").write_bytes(b"not an image")
    return folder


def convcli(*args: str, cwd: Path | None = None, **popen: object) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "convcli", "apply", *args]
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)  # type: ignore[call-overload]  # fmt: skip


def finish(process: subprocess.Popen[str]) -> tuple[int, list[dict[str, object]], str]:
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # a hung run leaves no process behind the test
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL) if os.getpgid(
                process.pid
            ) == process.pid else process.kill()
        raise
    return process.returncode, [json.loads(line) for line in out.splitlines()], err


def without_times(record: dict[str, object]) -> dict[str, object]:
    stages = [{k: v for k, v in s.items() if k != "seconds"} for s in record.get("stages") or []]  # type: ignore[attr-defined]
    return {k: v for k, v in record.items() if k != "seconds"} | {"stages": stages}


def same_files(one: Path, other: Path) -> None:
    names = sorted(path.name for path in one.iterdir())
    assert names == sorted(path.name for path in other.iterdir())  # no temporary file either
    for name in names:
        assert (one / name).read_bytes() == (other / name).read_bytes(), name


def test_a_batch_on_a_cluster_equals_one_process(cluster, photos, tmp_path):
    address, _ = cluster
    local = finish(convcli(str(photos), "-k", KERNEL, "-o", "local/", "-j", "1", "--json",
                           cwd=tmp_path))  # fmt: skip
    remote = finish(convcli(str(photos), "-k", KERNEL, "-o", "remote/", "--json",
                            "--scheduler", address, cwd=tmp_path))  # fmt: skip
    assert local[0] == remote[0] == 1  # the broken file fails alone
    assert local[2].splitlines()[:-1] == remote[2].splitlines()[:-1]  # errors and notes
    assert [without_times(r) for r in remote[1]] == [
        without_times(r) | {"output": r["output"] and r["output"].replace("local/", "remote/")}  # type: ignore[union-attr]
        for r in local[1]
    ]
    same_files(tmp_path / "local", tmp_path / "remote")


def test_the_scheduler_comes_from_the_environment_too(cluster, photos, tmp_path):
    address, _ = cluster
    for variable in ("CONVCLI_SCHEDULER", "DASK_SCHEDULER_ADDRESS"):
        env = os.environ | {variable: address}
        code, records, _ = finish(convcli(str(photos / "img00.png"), "-k", KERNEL, "-o",
                                          f"{variable}/", "--json", cwd=tmp_path, env=env))  # fmt: skip
        assert code == 0
        assert records[0]["status"] == "ok"


def test_fail_fast_and_skip_existing_on_a_cluster(cluster, photos, tmp_path):
    address, client = cluster
    code, records, _ = finish(convcli(str(photos), "-k", KERNEL, "-o", "out/", "--json",
                                      "--fail-fast", "--scheduler", address, cwd=tmp_path))  # fmt: skip
    assert code == 1
    statuses = [record["status"] for record in records]
    assert statuses[:6] == ["ok"] * 6  # img00 to img05
    assert statuses[6] == "error"  # img05b.png, in input order
    assert statuses[7:] == ["skipped"] * 6
    reasons = {str(record["error"]) for record in records[7:]}
    assert reasons <= {"not run: --fail-fast stopped at the first failure",
                       "--fail-fast stopped the run; its output was written before"}  # fmt: skip
    # Tasks already running on a cluster when the run stopped finish and write their outputs.
    while any(client.run(lambda dask_worker: dask_worker.state.executing_count).values()):
        time.sleep(0.05)
    names = [f"out/img{i:02d}_gaussian-sigma-3.png" for i in range(12)]
    expected = ["skipped" if (tmp_path / name).exists() else "ok" for name in names]
    again = finish(convcli(str(photos), "-k", KERNEL, "-o", "out/", "--json", "--skip-existing",
                           "--scheduler", address, cwd=tmp_path))  # fmt: skip
    assert [r["status"] for r in again[1]] == [*expected[:6], "error", *expected[6:]]


def test_a_worker_killed_mid_batch_loses_nothing(cluster, photos, tmp_path):
    address, client = cluster
    process = convcli(str(photos), "-k", KERNEL, "-o", "out/", "--json", "--scheduler", address,
                      cwd=tmp_path)  # fmt: skip
    assert process.stdout is not None
    first = process.stdout.readline()  # the first group is done: the others are running
    assert json.loads(first)["status"] == "ok"
    victim = next(iter(client.run(os.getpid).values()))
    os.kill(victim, signal.SIGKILL)
    code, records, err = finish(process)
    assert code == 1, err
    assert [r["status"] for r in records].count("ok") == 11
    expected = finish(convcli(str(photos), "-k", KERNEL, "-o", "expected/", "-j", "1", "-q",
                              cwd=tmp_path))  # fmt: skip
    assert expected[0] == 1
    same_files(tmp_path / "expected", tmp_path / "out")  # every output whole, no .part file
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it, for the next tests


@pytest.mark.parametrize("attempt", range(3))  # it raced: 2 runs in 8 once went on or hung
def test_ctrl_c_stops_a_local_cluster_and_leaves_nothing_partial(photos, tmp_path, attempt):
    process = convcli(str(photos), "-k", KERNEL, "-o", "out/", "--json", "--scheduler", "local:2",
                      cwd=tmp_path, start_new_session=True)  # fmt: skip
    assert process.stdout is not None
    process.stdout.readline()  # running
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C: the whole process group
    code, _, err = finish(process)
    assert code == 130
    # One line: no worker's traceback, no "Exception ignored" from a finalizer.
    assert err.count("\n") == 1, err
    assert err.startswith("convcli: error: interrupted by SIGINT")
    assert not [
        p for p in (tmp_path / "out").iterdir() if not p.name.endswith("_gaussian-sigma-3.png")
    ]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # every worker process of the local cluster ends
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("worker processes outlived the run")


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("tcp://127.0.0.1:1", "cannot reach the Dask scheduler at tcp://127.0.0.1:1"),
        ("local:0", "--scheduler local:N needs N from 1 to 1024, got 'local:0'"),
        ("x:y", "--scheduler x:y: not an address (tcp://host:port, host:port, local or local:N)"),
    ],
)
def test_a_wrong_scheduler_is_a_usage_error_with_nothing_written(
    photos, tmp_path, address, message
):
    code, records, err = finish(convcli(str(photos), "-k", KERNEL, "-o", "out/", "--scheduler",
                                        address, cwd=tmp_path))  # fmt: skip
    assert code == 2
    assert records == []
    assert err.count("\n") == 1
    assert err.startswith(f"convcli: error: {message}")
    assert list(tmp_path.iterdir()) == []


def test_standard_input_is_refused_on_a_cluster(cluster, tmp_path):
    address, _ = cluster
    with open(SAMPLES / "coins.png", "rb") as source:  # the workers have no such stream
        code, records, err = finish(convcli("-", "-k", KERNEL, "-o", "out.png", "--scheduler",
                                            address, cwd=tmp_path, stdin=source))  # fmt: skip
    assert (code, records) == (2, [])
    assert err == (
        "convcli: error: a cluster's workers cannot read standard input; run without --scheduler\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_workers_with_another_convcli_are_refused(cluster, photos, tmp_path):
    address, client = cluster

    def pretend(version):
        from convcli import _version

        _version.__version__ = version

    real = client.run(lambda: __import__("convcli._version").__version__)
    client.run(pretend, "0.0.1")
    try:
        code, _, err = finish(convcli(str(photos), "-k", KERNEL, "-o", "out/", "--scheduler",
                                      address, cwd=tmp_path))  # fmt: skip
    finally:
        client.run(pretend, next(iter(real.values())))
    assert code == 2
    assert "the Dask workers run convcli 0.0.1" in err
    assert list(tmp_path.iterdir()) == []


def test_without_a_scheduler_dask_is_never_imported(tmp_path):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "convcli", "apply", str(SAMPLES / "coins.png"),
         "-k", "box", "-o", str(tmp_path / "out.png"), "-q"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    imported = [line.split("|")[-1].strip() for line in done.stderr.splitlines()]
    assert "numpy" in imported  # the import log is there
    assert not [name for name in imported if name.split(".")[0] in ("dask", "distributed")]


def test_tiles_of_a_huge_array_go_to_the_cluster_and_equal_the_whole(cluster, tmp_path):
    address, client = cluster
    np.save(tmp_path / "scan.npy", np.random.default_rng(3).random((500, 400)).astype(np.float32))
    tiled = finish(convcli("scan.npy", "-k", "sobel", "--range", "rescale", "--tile", "64",
                           "-o", "tiled.npy", "--scheduler", address, "-q", cwd=tmp_path))  # fmt: skip
    whole = finish(convcli("scan.npy", "-k", "sobel", "--range", "rescale", "-o", "whole.npy",
                           "-q", cwd=tmp_path))  # fmt: skip
    assert tiled[0] == whole[0] == 0, tiled[2]
    assert np.array_equal(np.load(tmp_path / "tiled.npy"), np.load(tmp_path / "whole.npy"))
    prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert {"convcli", "block_bounds"} <= set(prefixes)  # tiles and bounds: the cluster's tasks


def test_a_zarr_array_is_read_and_written_in_tiles_by_the_cluster_s_workers(cluster, tmp_path):
    zarr = pytest.importorskip("zarr")
    address, _ = cluster
    values = np.random.default_rng(5).random((300, 260)).astype(np.float32)
    np.save(tmp_path / "scan.npy", values)
    save_zarr(tmp_path / "scan.zarr", values, (70, 70))
    tiled = finish(convcli("scan.zarr", "-k", "gaussian:sigma=2", "--tile", "64", "-o",
                           "tiled.zarr", "--scheduler", address, "-q", cwd=tmp_path))  # fmt: skip
    whole = finish(convcli("scan.npy", "-k", "gaussian:sigma=2", "-o", "whole.npy", "-q",
                           cwd=tmp_path))  # fmt: skip
    assert tiled[0] == whole[0] == 0, tiled[2]
    got = zarr.open_array(store=str(tmp_path / "tiled.zarr"), mode="r")[...]
    assert np.array_equal(got, np.load(tmp_path / "whole.npy"))


def test_a_tiled_tiff_is_read_and_written_in_tiles_on_the_cluster(cluster, tmp_path):
    tifffile = pytest.importorskip("tifffile")
    address, _ = cluster
    pixels = (np.random.default_rng(6).random((260, 300, 3)) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "scan.tif", pixels, tile=(64, 48))
    tiled = finish(convcli("scan.tif", "-k", "sobel", "--range", "abs", "--tile", "64", "-o",
                           "tiled.tif", "--scheduler", address, "-q", cwd=tmp_path))  # fmt: skip
    whole = finish(convcli("scan.tif", "-k", "sobel", "--range", "abs", "-o", "whole.tif", "-q",
                           cwd=tmp_path))  # fmt: skip
    assert tiled[0] == whole[0] == 0, tiled[2]
    got, want = tifffile.imread(tmp_path / "tiled.tif"), tifffile.imread(tmp_path / "whole.tif")
    assert got.dtype == want.dtype == np.uint8
    assert np.array_equal(got, want)


def test_the_library_runs_a_planned_batch_on_a_cluster(cluster, photos, tmp_path):
    from convcli.catalog.lookup import load_kernel
    from convcli.distributed.cluster import session
    from convcli.distributed.executors import DaskExecutor, executor_for
    from convcli.run.batch import run_batch
    from convcli.run.model import RunOptions, Settings
    from convcli.run.planning import plan_run

    address, _ = cluster
    settings, options = Settings(kernels=(load_kernel("box"),)), RunOptions()
    names = [str(photos / "img00.png"), str(photos / "img05b.png")]
    planned = plan_run(names, f"{tmp_path}/out/", settings)
    with session(address, 1, names) as client:
        executor = executor_for(planned.jobs, options, client)
        assert isinstance(executor, DaskExecutor)
        reports = run_batch(planned.jobs, settings, options, executor)
    assert [report.status for report in reports] == ["ok", "error"]
    assert (tmp_path / "out" / "img00_box.png").is_file()


def test_a_worker_killed_while_tiling_loses_no_tile(cluster, tmp_path):
    address, client = cluster
    client.wait_for_workers(2, timeout=60)
    np.save(tmp_path / "scan.npy", np.random.default_rng(4).random((2400, 2000)).astype(np.float32))
    process = convcli("scan.npy", "-k", "gaussian:sigma=4", "--tile", "128", "-o", "tiled.npy",
                      "--scheduler", address, "-q", cwd=tmp_path)  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".tiled.npy.*.part")) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # tiles are being computed and written
    os.kill(next(iter(client.run(os.getpid).values())), signal.SIGKILL)
    code, _, err = finish(process)
    assert code == 0, err
    whole = finish(convcli("scan.npy", "-k", "gaussian:sigma=4", "-o", "whole.npy", "-q",
                           cwd=tmp_path))  # fmt: skip
    assert whole[0] == 0
    assert np.array_equal(np.load(tmp_path / "tiled.npy"), np.load(tmp_path / "whole.npy"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.npy", "tiled.npy", "whole.npy"]
    client.wait_for_workers(2, timeout=60)
