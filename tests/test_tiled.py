"""apply --tile: a .npy, TIFF or Zarr array larger than memory, filtered in tiles, equals the whole."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from helpers import SAMPLES, fail_zarr_writes, run, save_zarr

pytest.importorskip(
    "dask.array", reason='needs the distributed extra: pip install ".[distributed]"'
)
zarr = pytest.importorskip(
    "zarr", reason='needs the distributed extra: pip install ".[distributed]"'
)


@pytest.fixture(scope="module")
def arrays(tmp_path_factory):
    folder = tmp_path_factory.mktemp("arrays")
    rng = np.random.default_rng(7)
    np.save(folder / "scan.npy", (rng.random((301, 257)) * 255).astype(np.uint8))
    np.save(folder / "rgb.npy", (rng.random((97, 120, 3)) * 65535).astype(np.uint16))
    np.save(folder / "volume.npy", rng.standard_normal((23, 30, 19)).astype(np.float32))
    np.save(folder / "fortran.npy", np.asfortranarray(rng.random((70, 90))))
    tifffile.imwrite(folder / "tiled.tif", (rng.random((150, 170, 3)) * 255).astype(np.uint8),
                     tile=(32, 48), resolution=(300, 300), resolutionunit="INCH")  # fmt: skip
    tifffile.imwrite(folder / "strips.tif", (rng.random((130, 90)) * 65535).astype(np.uint16),
                     rowsperstrip=7)  # fmt: skip
    # Zarr twins of two arrays: chunks that do not divide them; Zarr 3 and Zarr 2.
    for name, chunks, version in (("scan", (50, 40), 3), ("rgb", (30, 64, 3), 2)):
        values = np.load(folder / f"{name}.npy")
        save_zarr(folder / f"{name}.zarr", values, chunks, zarr_format=version)
    return folder


CASES = [
    ("scan.npy", ["-k", "gaussian:sigma=3"]),
    ("scan.npy", ["-k", "sobel", "--range", "rescale"]),  # two components; bounds of the whole
    ("scan.npy", ["-k", "gaussian:sigma=1", "-k", "laplacian", "-s", "2", "--range", "offset"]),
    ("scan.npy", ["-k", "sobel-x", "-p", "40", "--pad-mode", "wrap", "-d", "3"]),
    ("rgb.npy", ["-k", "box:4", "-p", "valid", "--range", "clip"]),
    ("volume.npy", ["-k", "[[[1,2],[3,4]],[[0,1],[1,-5]]]", "--pad-mode", "symmetric"]),
    ("fortran.npy", ["-k", "emboss", "--flip", "-p", "full"]),
]


TIFF_CASES = [
    ("tiled.tif", "tif", ["-k", "gaussian:sigma=2"]),
    ("tiled.tif", "tif", ["-k", "sobel", "--range", "rescale", "-s", "2"]),
    ("strips.tif", "tif", ["-k", "laplacian", "--range", "offset", "--pad-mode", "symmetric"]),
    ("strips.tif", "npy", ["-k", "sharpen", "--range", "raw"]),
    ("scan.npy", "tif", ["-k", "emboss", "--range", "offset"]),
]


def _read(path):
    if path.suffix == ".zarr":
        return zarr.open_array(store=str(path), mode="r")[...]
    return np.load(path) if path.suffix == ".npy" else tifffile.imread(path)


ZARR_CASES = [
    ("scan.zarr", "npy", ["-k", "gaussian:sigma=3", "-s", "2"]),
    ("rgb.zarr", "zarr", ["-k", "sobel", "--range", "rescale", "--pad-mode", "wrap"]),
    ("scan.npy", "zarr", ["-k", "box:5", "-p", "valid", "-d", "2"]),
]


@pytest.mark.parametrize(("name", "suffix", "options"), ZARR_CASES,
                         ids=[f"{n} to {x} {' '.join(o)}" for n, x, o in ZARR_CASES])  # fmt: skip
def test_zarr_tiles_equal_the_whole_array(arrays, tmp_path, name, suffix, options):
    twin = name.replace(".zarr", ".npy")  # the same values, as a .npy filtered whole
    whole = run("apply", str(arrays / twin), *options, "-o", str(tmp_path / "whole.npy"), "-q")
    assert whole.exit_code == 0, whole.stderr
    tiled = run("apply", str(arrays / name), *options, "--tile", "32", "-o",
                str(tmp_path / f"tiled.{suffix}"), "-q")  # fmt: skip
    assert tiled.exit_code == 0, tiled.stderr
    got = _read(tmp_path / f"tiled.{suffix}")
    assert got.dtype == np.float32
    assert np.array_equal(got, np.load(tmp_path / "whole.npy"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"tiled.{suffix}", "whole.npy"]


def test_a_zarr_output_is_chunked_by_tile_and_carries_provenance(arrays, tmp_path):
    result = run("apply", str(arrays / "rgb.zarr"), "-k", "emboss", "--tile", "48", "-o",
                 str(tmp_path / "out.zarr"), "-q")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    out = zarr.open_array(store=str(tmp_path / "out.zarr"), mode="r")
    assert out.shape == (97, 120, 3)
    assert out.chunks == (48, 48, 3)
    assert out.attrs["software"].startswith("convcli ")
    assert '"kernels":["emboss"]' in out.attrs["description"]


def test_zarr_stores_are_inputs_of_a_folder_and_never_written_over(arrays, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "scan.npy").write_bytes((arrays / "scan.npy").read_bytes())
    zarr.open_array(store=str(folder / "volume.zarr"), mode="w", shape=(9, 8),
                    dtype=np.float32)[...] = 1  # fmt: skip
    first = run("apply", str(folder), "-k", "box", "--tile", "16", "--format", "zarr",
                "-o", str(tmp_path / "out"), "--json")  # fmt: skip
    assert first.exit_code == 0, first.stderr
    records = [json.loads(line) for line in first.stdout.splitlines()]
    assert [(r["input"].rsplit("/", 1)[-1], r["status"]) for r in records] == [
        ("scan.npy", "ok"), ("volume.zarr", "ok")]  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "scan_box.zarr",
        "volume_box.zarr",
    ]
    again = run("apply", str(folder), "-k", "box", "--tile", "16", "--format", "zarr",
                "-o", str(tmp_path / "out"))  # fmt: skip
    assert again.exit_code == 2
    assert again.stderr == (
        f"convcli: error: {tmp_path / 'out' / 'scan_box.zarr'} exists: a Zarr array is never "
        "written over another; remove it, or give another -o or --skip-existing\n"
    )
    skipped = run("apply", str(folder), "-k", "box", "--tile", "16", "--format", "zarr",
                  "-o", str(tmp_path / "out"), "--skip-existing", "-q")  # fmt: skip
    assert skipped.exit_code == 0


def test_what_a_zarr_store_needs_is_said_in_one_line(arrays, tmp_path):
    group = zarr.open_group(store=str(tmp_path / "group.zarr"), mode="w")
    group.create_array("0", shape=(40, 40), dtype=np.uint8)
    untiled = run("apply", str(arrays / "scan.zarr"), "-k", "box", "-o", str(tmp_path / "a.npy"))
    assert untiled.exit_code == 2
    assert untiled.stderr == (
        f"convcli: error: {arrays / 'scan.zarr'}: a Zarr array is read and written in tiles: "
        "give --tile N\n"
    )
    explained = run("explain", "-k", "box", "--input", str(arrays / "scan.zarr"))
    assert explained.stderr == (  # explain has no --tile to offer
        f"convcli: error: --input {arrays / 'scan.zarr'}: explain reads a matrix, a .npy or an "
        "image, not a Zarr array\n"
    )
    out = run("apply", str(arrays / "scan.npy"), "-k", "box", "-o", str(tmp_path / "a.zarr"))
    assert out.exit_code == 2
    not_array = run("apply", str(tmp_path / "group.zarr"), "-k", "box", "--tile", "16",
                    "-o", str(tmp_path / "b.npy"))  # fmt: skip
    assert not_array.exit_code == 1
    assert "group.zarr: not a Zarr array" in not_array.stderr
    level = run("apply", str(tmp_path / "group.zarr" / "0"), "-k", "box", "--tile", "16",
                "-o", str(tmp_path / "b.npy"), "-q")  # fmt: skip
    assert level.exit_code == 0, level.stderr  # an array of the group, by its path
    for result in (untiled, out, not_array):
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_failed_zarr_write_leaves_no_folder(arrays, tmp_path, monkeypatch):
    fail_zarr_writes(monkeypatch, OSError(28, "No space left on device"))
    result = run("apply", str(arrays / "scan.zarr"), "-k", "box", "--tile", "32", "-j", "1",
                 "-o", str(tmp_path / "out.zarr"))  # fmt: skip
    assert result.exit_code == 1
    assert "No space left on device" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "suffix", "options"),
    [(n, "npy", o) for n, o in CASES] + TIFF_CASES,
    ids=[f"{n} {' '.join(o)}" for n, o in CASES]
    + [f"{n} to {x} {' '.join(o)}" for n, x, o in TIFF_CASES],
)
def test_tiles_equal_the_whole_array(arrays, tmp_path, name, suffix, options):
    whole = run(
        "apply", str(arrays / name), *options, "-o", str(tmp_path / f"whole.{suffix}"), "-q"
    )
    assert whole.exit_code == 0, whole.stderr
    tiled = run("apply", str(arrays / name), *options, "--tile", "16", "-o",
                str(tmp_path / f"tiled.{suffix}"), "-q")  # fmt: skip
    assert tiled.exit_code == 0, tiled.stderr
    expected, got = _read(tmp_path / f"whole.{suffix}"), _read(tmp_path / f"tiled.{suffix}")
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"tiled.{suffix}", f"whole.{suffix}"]


def test_a_tiled_tiff_carries_resolution_and_provenance(arrays, tmp_path):
    result = run("apply", str(arrays / "tiled.tif"), "-k", "box", "-s", "2", "--tile", "32",
                 "-o", str(tmp_path / "out.tif"), "-q")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        page = tiff.pages.first
        assert page.is_tiled
        assert (page.tilelength, page.tilewidth) == (32, 32)
        assert page.tags["XResolution"].value == (150, 1)  # 300 dpi, every other pixel
        assert page.tags["Software"].value.startswith("convcli ")
        assert '"kernels":["box"]' in page.tags["ImageDescription"].value


def test_the_record_is_the_whole_arrays(arrays, tmp_path):
    common = [str(arrays / "scan.npy"), "-k", "sobel-x", "-s", "2", "--json"]
    whole = json.loads(run("apply", *common, "-o", str(tmp_path / "a.npy")).stdout)
    tiled = json.loads(run("apply", *common, "--tile", "32", "-o", str(tmp_path / "b.npy")).stdout)
    for key in ("status", "input_shape", "output_shape", "kernel_shape", "padding", "method"):
        assert tiled[key] == whole[key], key
    planned = json.loads(run("apply", *common, "--tile", "32", "--dry-run").stdout)
    assert planned["status"] == "planned"
    assert planned["output_shape"] == whole["output_shape"]


def test_an_npy_over_the_limit_is_tiled_and_a_tiff_only_when_asked(arrays, tmp_path):
    whole = run("apply", str(arrays / "scan.npy"), "-k", "box", "-o", str(tmp_path / "w.npy"))
    assert whole.exit_code == 0, whole.stderr
    # An .npy's header cannot claim more values than the file holds: tiled, with a note.
    done = run("apply", str(arrays / "scan.npy"), "-k", "box", "--max-pixels", "1000",
               "-o", str(tmp_path / "a.npy"), "-q")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    # The largest of 4096, 2048, ... whose window fits 8 x 1000 values: (64 + 2)² = 4356.
    assert done.stderr == (
        f"convcli: note: {arrays / 'scan.npy'}: over --max-pixels, so filtered in tiles of 64 "
        "(as with --tile)\n"
    )
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "w.npy"))
    image = run("apply", str(arrays / "scan.npy"), "-k", "box", "--max-pixels", "1000",
                "-o", str(tmp_path / "a.png"))  # fmt: skip
    assert image.exit_code == 2  # a PNG is not written in tiles
    assert "over the limit of 1,000" in image.stderr
    # A TIFF's compressed pixels can claim any size (a decompression bomb): only with --tile.
    refused = run("apply", str(arrays / "strips.tif"), "-k", "box", "--max-pixels", "1000",
                  "-o", str(tmp_path / "b.tif"))  # fmt: skip
    assert refused.exit_code == 1
    assert "--max-pixels" in refused.stderr
    asked = run("apply", str(arrays / "strips.tif"), "-k", "box", "--max-pixels", "1000",
                "--tile", "16", "-o", str(tmp_path / "b.tif"), "-q")  # fmt: skip
    assert asked.exit_code == 0, asked.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "b.tif", "w.npy"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["SAMPLE", "-o", "OUT/"], "SAMPLE: --tile filters .npy, TIFF and Zarr; this is a png"),
        (
            ["scan.npy", "-o", "OUT/x.png"],
            "--tile writes .npy, TIFF or Zarr outputs: give -o NAME.npy, NAME.tif or NAME.zarr, "
            "a folder, or --format",
        ),
        (
            ["scan.npy", "--tile", "40", "-o", "OUT/x.tif"],
            "--tile 40: a TIFF's tiles are a multiple of 16 samples a side",
        ),
        (["scan.npy", "--gray", "-o", "OUT/x.npy"], "--tile does not take --gray or --colormap"),
        (
            ["scan.npy", "--tile", "4096", "--max-pixels", "1000", "-o", "OUT/x.npy"],
            # the tile clipped to the 301x257 output reads (301 + 2) x (257 + 2) values
            "scan.npy: --tile 4096: a tile of box:size=3 reads 78477 values, over the limit of "
            "8000 (8 x --max-pixels); choose a smaller tile",
        ),
    ],
)
def test_what_cannot_be_tiled_is_refused_before_anything_is_written(
    arrays, tmp_path, arguments, message
):
    names = {"SAMPLE": str(SAMPLES / "coins.png"), "scan.npy": str(arrays / "scan.npy")}
    given = [names.get(a, a.replace("OUT", str(tmp_path))) for a in arguments]
    tile = [] if "--tile" in given else ["--tile", "16"]
    result = run("apply", *given, "-k", "box:3", *tile)
    assert result.exit_code == 2
    for name, path in names.items():  # each input's name as the user typed it
        message = message.replace(name, path)
    assert result.stderr == f"convcli: error: {message}\n"  # the options as they are typed
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_output_fails_alone_and_leaves_nothing(arrays, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        result = run("apply", str(arrays / "scan.npy"), "-k", "box", "--tile", "16",
                     "-o", str(folder / "a.npy"))  # fmt: skip
    finally:
        folder.chmod(0o700)
    if result.exit_code == 0:
        pytest.skip("running as a user who may write anywhere")
    assert result.exit_code == 1
    assert "cannot write" in result.stderr
    assert list(folder.iterdir()) == []


def test_ctrl_c_while_tiling_leaves_no_partial_file(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    np.save(tmp_path / "slow.npy", np.random.default_rng(0).random((3000, 3000)).astype(np.float32))
    command = [sys.executable, "-m", "convcli", "apply", "slow.npy", "-k", "gaussian:sigma=6",
               "--tile", "128", "-j", "1", "-o", "out.npy", "-q"]  # fmt: skip
    process = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.npy.*.part")) and time.monotonic() < deadline:
        time.sleep(0.01)  # the tiles are being written
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted by SIGINT: 0 of 1 outputs written" in stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["slow.npy"]


def test_the_clip_note_is_the_whole_images(arrays, tmp_path):
    common = [str(arrays / "scan.npy"), "-k", "sobel-x", "--range", "clip", "-q"]
    whole = run("apply", *common, "-o", str(tmp_path / "whole.tif"))
    assert "of the values were clipped" in whole.stderr  # counted band by band
    for suffix in ("tif", "npy"):
        tiled = run("apply", *common, "--tile", "32", "-o", str(tmp_path / f"tiled.{suffix}"))
        assert tiled.stderr.replace(f"tiled.{suffix}", "whole.tif") == whole.stderr


def test_a_tiled_stage_is_not_timed_on_its_own(arrays, tmp_path):
    result = run("apply", str(arrays / "scan.npy"), "-k", "box", "-k", "box", "--tile", "32",
                 "-o", str(tmp_path / "out.npy"), "--json")  # fmt: skip
    record = json.loads(result.stdout)
    assert [stage["seconds"] for stage in record["stages"]] == [None, None]
    assert record["seconds"] > 0


def test_the_library_refuses_a_tiled_run_naming_its_parameters(arrays):
    from convcli.catalog.lookup import load_kernel
    from convcli.errors import ParameterError
    from convcli.run.model import Settings
    from convcli.run.planning import plan_run

    settings = Settings(kernels=(load_kernel("box"),), gray=True)
    with pytest.raises(ParameterError) as refused:
        plan_run([str(arrays / "scan.npy")], "x.npy", settings, tile=16, max_pixels=10**6)
    assert refused.value.parameter == "tile"
    assert str(refused.value) == "tile does not take gray or colormap"
