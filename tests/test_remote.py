"""Inputs and outputs in an object store, against a real S3 API (moto's server) on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from helpers import SAMPLES, fail_zarr_writes, run, save_zarr

s3fs = pytest.importorskip("s3fs", reason='needs the remote extra: pip install ".[remote]"')
pytest.importorskip("upath", reason='needs the remote extra: pip install ".[remote]"')
werkzeug_app = pytest.importorskip(
    "moto.moto_server.werkzeug_app", reason="needs moto[server], a test dependency"
)

KERNEL = "sobel-x"
PHOTOS = ["astronaut.png", "camera.png", "coins.png"]


@pytest.fixture(scope="module")
def endpoint():
    """An S3 API on 127.0.0.1 (a free port), served by moto from a thread of this process."""
    from werkzeug.serving import make_server

    class Handler(werkzeug_app.MotoRequestHandler):
        # werkzeug's Server header beside moto's: aiohttp's strict parser (-X dev) refuses two.
        def send_response(self, code: int, message: str | None = None) -> None:
            self.log_request(code)
            self.send_response_only(code, message)
            self.send_header("Date", self.date_time_string())

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    application = werkzeug_app.DomainDispatcherApplication(werkzeug_app.create_backend_app)
    server = make_server("127.0.0.1", 0, application, threaded=True, request_handler=Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def bucket(endpoint, monkeypatch):
    """A new bucket holding three photos and a text file under photos/; (its URL, a client)."""
    credentials = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                   "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)  # its own: convcli's keeps its listings
    name = f"test-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    for photo in PHOTOS:
        fs.put_file(str(SAMPLES / photo), f"{name}/photos/{photo}")
    fs.pipe_file(f"{name}/photos/notes.txt", b"not a picture")
    fs.pipe_file(f"{name}/photos/empty/", b"")  # a "folder" some tools make: no object
    yield f"s3://{name}", fs
    fs.rm(name, recursive=True)


def keys(fs, prefix: str) -> list[str]:
    fs.invalidate_cache()
    return sorted(path.rsplit("/", 1)[-1] for path in fs.find(prefix))


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """The outputs of the photos filtered as local files by one process."""
    folder = tmp_path_factory.mktemp("expected")
    result = run("apply", *(str(SAMPLES / photo) for photo in PHOTOS), "-k", KERNEL,
                 "-o", f"{folder}/", "-j", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    return {path.name: path.read_bytes() for path in folder.iterdir()}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_folder_in_a_store_equals_the_same_files_here(bucket, expected, jobs):
    url, fs = bucket
    result = run("apply", f"{url}/photos/", "-k", KERNEL, "-o", f"{url}/edges/", "-j", jobs,
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert keys(fs, f"{url}/edges/") == sorted(expected)  # nothing else: no temporary object
    for name, content in expected.items():
        assert fs.cat_file(f"{url}/edges/{name}") == content, name
    assert f'"output": "{url}/edges/camera_sobel-x.png"' in result.stdout
    assert '"status": "skipped"' in result.stdout  # notes.txt: not an image


def test_one_object_in_and_a_file_out_and_back(bucket, expected, tmp_path):
    url, fs = bucket
    local = tmp_path / "camera_sobel-x.png"
    assert run("apply", f"{url}/photos/camera.png", "-k", KERNEL, "-o", str(local)).exit_code == 0
    assert local.read_bytes() == expected["camera_sobel-x.png"]
    result = run("apply", str(SAMPLES / "camera.png"), "-k", KERNEL, "-o", f"{url}/one/x.png")
    assert result.exit_code == 0, result.output
    assert fs.cat_file(f"{url}/one/x.png") == expected["camera_sobel-x.png"]


def test_skip_existing_and_replacing_only_convcli_s_own_objects(bucket):
    url, fs = bucket
    assert run("apply", f"{url}/photos/", "-k", KERNEL, "-o", f"{url}/edges/").exit_code == 0
    again = run("apply", f"{url}/photos/", "-k", KERNEL, "-o", f"{url}/edges/", "--json",
                "--skip-existing")  # fmt: skip
    assert again.exit_code == 0
    assert again.stdout.count('"error": "output exists"') == len(PHOTOS)
    # The same settings may replace convcli's outputs; others may not, nor a stranger's object.
    assert run("apply", f"{url}/photos/", "-k", KERNEL, "-o", f"{url}/edges/").exit_code == 0
    other = run("apply", f"{url}/photos/", "-k", "sobel-y", "-o", f"{url}/edges/",
                "--name", "{stem}_sobel-x{suffix}")  # fmt: skip
    assert other.exit_code == 2
    assert "made by convcli with other settings" in other.stderr
    fs.pipe_file(f"{url}/edges/coins_sobel-y.png", b"someone else's")
    stranger = run("apply", f"{url}/photos/", "-k", "sobel-y", "-o", f"{url}/edges/")
    assert stranger.exit_code == 2
    assert "coins_sobel-y.png exists and convcli did not make it" in stranger.stderr
    assert fs.cat_file(f"{url}/edges/coins_sobel-y.png") == b"someone else's"
    assert "astronaut_sobel-y.png" not in keys(fs, f"{url}/edges/")  # refused before writing


def test_a_missing_or_oversized_object_fails_alone(bucket):
    url, fs = bucket
    result = run("apply", f"{url}/photos/missing.png", f"{url}/photos/camera.png", "-k", KERNEL,
                 "-o", f"{url}/out/")  # fmt: skip
    assert result.exit_code == 1
    assert f"{url}/photos/missing.png: no such object" in result.stderr
    assert keys(fs, f"{url}/out/") == ["camera_sobel-x.png"]
    small = run("apply", f"{url}/photos/camera.png", "-k", KERNEL, "-o", f"{url}/small.png",
                "--max-pixels", "1000")  # fmt: skip
    assert small.exit_code == 1
    size = (SAMPLES / "camera.png").stat().st_size  # refused unread, by its size alone
    assert small.stderr == (
        f"convcli: error: {url}/photos/camera.png: {size} bytes, more than a picture within "
        "--max-pixels takes\n"
    )


def test_an_output_appears_whole_or_not_at_all(bucket, monkeypatch):
    url, fs = bucket

    def broken(stream, *args, **kwargs):
        stream.write(b"\x89PNG half an image")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("convcli.run.output.write_image", broken)
    result = run("apply", f"{url}/photos/camera.png", "-k", KERNEL, "-o", f"{url}/out/x.png")
    assert result.exit_code == 1
    assert keys(fs, f"{url}/out/") == []


def test_what_a_store_cannot_do_is_refused_in_one_line(bucket, tmp_path):
    url, _ = bucket
    np.save(tmp_path / "a.npy", np.zeros((40, 40), np.float32))
    cases = {
        ("apply", f"{url}/photos/", "-k", KERNEL): "convcli: error: give -o for the outputs of a "
        f"folder in a store (as {url}/photos/{PHOTOS[0]}'s): convcli reads no object while "
        "planning, so it could not tell its outputs there from inputs\n",
        ("apply", f"{url}/photos/camera.png", "-k", KERNEL, "--tile", "256", "-o",
         "t.npy"): "--tile reads Zarr arrays from a store; a .npy or TIFF must be a file",
        ("apply", str(tmp_path / "a.npy"), "-k", KERNEL, "--tile", "256", "-o",
         f"{url}/t.npy"): "--tile writes Zarr arrays to a store",
        ("apply", "nosuch://x/y.png", "-k", KERNEL): "nosuch://x/y.png: ",
    }  # fmt: skip
    for args, message in cases.items():
        result = run(*args)
        assert result.exit_code == 2, args
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    nothing = run("apply", "s3://no-such-bucket-here/x.png", "-k", KERNEL, "-o", f"{url}/y.png")
    assert nothing.exit_code == 1
    assert "s3://no-such-bucket-here/x.png: no such object" in nothing.stderr


def test_a_recursive_listing_mirrors_prefixes_and_skips_the_output_prefix(bucket, expected):
    url, fs = bucket
    fs.put_file(str(SAMPLES / "camera.png"), f"{url}/photos/deep/er/camera.png")
    result = run("apply", f"{url}/photos/", "-r", "-k", KERNEL, "-o", f"{url}/photos/edges/")
    assert result.exit_code == 0, result.output
    assert fs.cat_file(f"{url}/photos/edges/deep/er/camera_sobel-x.png") == expected[
        "camera_sobel-x.png"]  # fmt: skip
    again = run("apply", f"{url}/photos/", "-r", "-k", KERNEL, "-o", f"{url}/photos/edges/",
                "--json")  # fmt: skip
    records = [json.loads(line) for line in again.stdout.splitlines()]
    assert not [record for record in records if "/edges/" in record["input"]]  # outputs: not inputs
    assert [record["status"] for record in records].count("ok") == len(PHOTOS) + 1


def test_a_cluster_s_workers_read_and_write_the_store(bucket, expected, tmp_path):
    pytest.importorskip(
        "distributed", reason='needs the distributed extra: pip install ".[distributed]"'
    )
    url, fs = bucket
    command = [sys.executable, "-m", "convcli", "apply", f"{url}/photos/", "-k", KERNEL,
               "-o", f"{url}/cluster/", "--scheduler", "local:2"]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, env=os.environ.copy(), capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert keys(fs, f"{url}/cluster/") == sorted(expected)
    for name, content in expected.items():
        assert fs.cat_file(f"{url}/cluster/{name}") == content, name


def test_workers_that_cannot_reach_the_store_are_refused(bucket, tmp_path):
    pytest.importorskip(
        "distributed", reason='needs the distributed extra: pip install ".[distributed]"'
    )
    url, _ = bucket
    # Nothing listens on port 9; one attempt, not botocore's retries with their back-off.
    env = os.environ | {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    command = [sys.executable, "-m", "convcli", "apply", f"{url}/photos/camera.png", "-k",
               KERNEL, "-o", str(tmp_path / "x.png"), "--scheduler", "local:1"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode == 2
    assert "cannot see" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not Path(tmp_path / "x.png").exists()


def test_zarr_arrays_in_a_store_are_read_and_written_in_tiles(bucket, tmp_path, monkeypatch):
    zarr = pytest.importorskip(
        "zarr", reason='needs the distributed extra: pip install ".[distributed]"'
    )
    url, fs = bucket
    values = np.random.default_rng(2).random((150, 130)).astype(np.float32)
    np.save(tmp_path / "scan.npy", values)
    save_zarr(tmp_path / "scan.zarr", values, (40, 40))
    common = ["-k", "gaussian:sigma=2", "--pad-mode", "wrap", "-q"]
    whole = run("apply", str(tmp_path / "scan.npy"), *common, "-o", str(tmp_path / "whole.npy"))
    assert whole.exit_code == 0, whole.stderr
    expected = np.load(tmp_path / "whole.npy")
    up = run("apply", str(tmp_path / "scan.zarr"), *common, "--tile", "32", "-o",
             f"{url}/out.zarr")  # fmt: skip
    assert up.exit_code == 0, up.stderr
    stored = zarr.open_array(store=f"{url}/out.zarr", mode="r")
    assert np.array_equal(stored[...], expected)
    assert stored.chunks == (32, 32)
    assert stored.attrs["software"].startswith("convcli ")
    down = run("apply", f"{url}/out.zarr", "-k", "box", "--tile", "32", "-o",
               str(tmp_path / "down.npy"), "-q")  # fmt: skip
    assert down.exit_code == 0, down.stderr
    box = run("apply", str(tmp_path / "whole.npy"), "-k", "box", "-o", str(tmp_path / "box.npy"))
    assert box.exit_code == 0, box.stderr
    assert np.array_equal(np.load(tmp_path / "down.npy"), np.load(tmp_path / "box.npy"))
    untiled = run("apply", f"{url}/out.zarr", "-k", "box", "-o", str(tmp_path / "x.npy"))
    assert untiled.exit_code == 2
    assert "give --tile N" in untiled.stderr

    fail_zarr_writes(monkeypatch, OSError(5, "Input/output error"))
    failed = run("apply", str(tmp_path / "scan.zarr"), *common, "--tile", "32", "-j", "1", "-o",
                 f"{url}/failed.zarr")  # fmt: skip
    assert failed.exit_code == 1
    assert keys(fs, f"{url}/failed.zarr") == []  # every object it wrote is removed


def test_fail_fast_in_a_store_says_what_was_not_run(bucket):
    url, fs = bucket
    fs.pipe_file(f"{url}/photos/broken.png", b"\x89PNG\r\n\x1a\n and then nothing")
    result = run("apply", f"{url}/photos/", "-k", KERNEL, "-o", f"{url}/ff/", "--fail-fast",
                 "--json", "-j", "1")  # fmt: skip
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["input"].rsplit("/", 1)[-1], r["status"]) for r in records] == [
        ("astronaut.png", "ok"), ("broken.png", "error"), ("camera.png", "skipped"),
        ("coins.png", "skipped"), ("notes.txt", "skipped")]  # fmt: skip
    assert records[2]["error"] == "not run: --fail-fast stopped at the first failure"
    assert keys(fs, f"{url}/ff/") == ["astronaut_sobel-x.png"]


def test_the_library_reads_and_writes_objects_in_a_store(bucket):
    import convcli

    url, fs = bucket
    photo = convcli.read(f"{url}/photos/camera.png")
    assert np.array_equal(photo.samples, convcli.read(SAMPLES / "camera.png").samples)
    convcli.write(photo, f"{url}/library/camera.tif")
    assert keys(fs, f"{url}/library/") == ["camera.tif"]  # one object, no temporary one
    assert np.array_equal(convcli.read(f"{url}/library/camera.tif").samples, photo.samples)
