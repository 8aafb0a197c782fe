"""apply --bank (each kernel on its own), its --montage sheet, and kernels show --picture."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convcli.colormaps import lookup_table
from helpers import SAMPLES, run
from helpers.pictures import find, label

BANK = ["sobel-x", "gaussian:sigma=2", "laplacian"]
NAMES = ["sobel-x", "gaussian-sigma-2", "laplacian"]  # as a one-kernel run names its output


def read(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def rgb(array: np.ndarray) -> np.ndarray:
    return np.repeat(array[..., None], 3, axis=2) if array.ndim == 2 else array[..., :3]


def kernels(*names: str) -> list[str]:
    return [part for name in names for part in ("-k", name)]


def files(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("camera.png", "coins.png"):
        shutil.copy(SAMPLES / name, folder / name)
    return folder


def small(path: Path, shape: tuple[int, ...], seed: int = 0) -> Path:
    """A random 8-bit picture small enough to be shown at full size on a sheet."""
    values = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    Image.fromarray(values).save(path)
    return path


# --- the bank -------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_each_output_is_the_one_kernel_run_byte_for_byte(tmp_path, photos, jobs):
    done = run("apply", str(photos), *kernels(*BANK), "--bank", "-o", str(tmp_path / "bank"),
               "-j", jobs, "-q")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    for kernel, name in zip(BANK, NAMES):
        alone = run("apply", str(photos), "-k", kernel, "-o", str(tmp_path / name), "-q")
        assert alone.exit_code == 0, alone.stderr
        for stem in ("camera", "coins"):
            made = f"{stem}_{name}.png"
            bank, single = tmp_path / "bank" / made, tmp_path / name / made
            np.testing.assert_array_equal(read(bank), read(single))
            assert bank.read_bytes() == single.read_bytes()  # the provenance too
    assert files(tmp_path / "bank") == {f"{s}_{n}.png" for s in ("camera", "coins") for n in NAMES}


def test_without_bank_several_kernels_stay_a_pipeline(tmp_path, photos):
    done = run("apply", str(photos / "coins.png"), *kernels("box:3", "laplacian"), "-q")
    assert done.exit_code == 0, done.stderr
    assert (photos / "coins_box-size-3+laplacian.png").exists()
    assert not (photos / "coins_laplacian.png").exists()


def test_json_has_one_record_per_output_input_by_input(tmp_path, photos):
    done = run("apply", str(photos / "camera.png"), str(photos / "coins.png"),
               *kernels(*BANK), "--bank", "-o", str(tmp_path / "out"), "--json")  # fmt: skip
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(Path(r["input"]).name, r["kernel"]) for r in records] == [
        (image, kernel) for image in ("camera.png", "coins.png") for kernel in BANK
    ]
    assert [Path(r["output"]).name for r in records] == [
        f"{stem}_{name}.png" for stem in ("camera", "coins") for name in NAMES
    ]
    assert {r["status"] for r in records} == {"ok"}
    assert records[0]["kernel_shape"] == [3, 3]  # one kernel each: no pipeline stages


def test_dry_run_writes_nothing_and_skip_existing_skips_per_kernel(tmp_path, photos):
    out = tmp_path / "out"
    planned = run("apply", str(photos), *kernels(*BANK), "--bank", "-o", str(out), "--dry-run",
                  "--json", "--montage", str(tmp_path / "sheet.png"))  # fmt: skip
    assert planned.exit_code == 0, planned.stderr
    assert [json.loads(line)["status"] for line in planned.stdout.splitlines()] == ["planned"] * 6
    assert not out.exists()
    assert not (tmp_path / "sheet.png").exists()
    assert "not drawn" in planned.stderr
    first = run("apply", str(photos / "coins.png"), "-k", "laplacian", "-o", f"{out}/", "-q")
    assert first.exit_code == 0, first.stderr
    again = run("apply", str(photos), *kernels(*BANK), "--bank", "-o", str(out),
                "--skip-existing", "--json")  # fmt: skip
    statuses = {
        (Path(r["input"]).name, r["kernel"]): r["status"]
        for r in map(json.loads, again.stdout.splitlines())
    }
    assert statuses.pop(("coins.png", "laplacian")) == "skipped"
    assert set(statuses.values()) == {"ok"}
    assert len(statuses) == 5


def test_one_kernel_is_a_bank_of_one(tmp_path, photos):
    done = run("apply", str(photos / "coins.png"), "-k", "sobel-x", "--bank", "-o",
               str(tmp_path / "out"), "-q")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert files(tmp_path / "out") == {"coins_sobel-x.png"}


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["-k", "sobel-x", "-k", "sobel-x", "--bank"], "kernels 1 and 2 are the same"),
        (["-k", "gaussian:sigma=2", "-k", "gaussian:sigma=2.0", "--bank"], "are the same"),
        (["-k", "sobel-x", "-k", "box", "--montage", "m.png"], "add --bank"),
        (["-k", "sobel-x", "-k", "box", "--bank", "--montage", "-"], "not standard output"),
        (["-k", "sobel-x", "-k", "box", "--bank", "--montage", "m.xyz"], "suffix '.xyz'"),
        (["-k", "sobel-x", "-k", "box", "--bank", "--montage", "no/m.png"], "does not exist"),
        (
            ["-k", "sobel-x", "-k", "box", "--bank", "--montage", "c.png"],
            "--montage c.png is also an input or an output; name another",
        ),
        (
            [
                "-k",
                "sobel-x",
                "-k",
                "box",
                "--bank",
                "--montage",
                "m.png",
                "--montage-scale",
                "shared",
            ],
            "give --colormap",
        ),
        (
            [
                "-k",
                "sobel-x",
                "-k",
                "box",
                "--bank",
                "--montage",
                "m.png",
                "--colormap",
                "magma",
                "--montage-scale",
                "sharde",
            ],
            "did you mean shared?",
        ),
        (["-k", "sobel-x", "--montage-scale", "each"], "give one"),
        (
            ["-k", "sobel-x", "-k", "box", "--bank", "-o", "x.png"],
            "-o x.png names a file, but --bank writes one output per kernel; name a folder "
            "(-o x/); --name TEMPLATE names the files in it",
        ),
        (
            ["-k", "sobel-x", "-k", "box", "--bank", "-o", "c.png"],
            "-o c.png is a file, but --bank writes one output per kernel: -o must name a folder",
        ),
        (
            ["-k", "sobel-x", "-k", "box", "--bank", "-o", "-"],
            "--bank writes one file per kernel: they cannot all go to standard output; "
            "give -o FOLDER/",
        ),
        (
            ["-k", "sobel-x", "-k", "box", "--bank", "--name", "{stem}{suffix}"],
            "--bank: --name '{stem}{suffix}' leaves the kernel out, so every kernel's output "
            "would have one name; put {kernel} or {tag} in it",
        ),
        (
            ["-k", "sobel-x", "-k", "box", "--bank", "--tile", "64"],
            "--bank does not take --tile: filter a huge array one kernel at a time",
        ),
        (
            [arg for size in range(1, 66) for arg in ("-k", f"box:{size}")] + ["--bank"],
            "at most 64 kernels",
        ),
        (
            [arg for size in range(1, 65) for arg in ("-k", f"box:{size}")]
            + ["--bank", "--montage", "m.png"],
            "--montage: 65 tiles (each input and each response), over the 64 a sheet holds; "
            "give fewer inputs or kernels",
        ),
    ],
)
def test_bad_values_are_one_line_and_exit_2_with_nothing_written(
    tmp_path, monkeypatch, arguments, said
):
    monkeypatch.chdir(tmp_path)
    small(tmp_path / "c.png", (20, 24))
    done = run("apply", "c.png", *arguments)
    assert done.exit_code == 2, done.output
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("convcli: error: ")
    assert said in lines[0]
    assert files(tmp_path) == {"c.png"}


def test_standard_input_is_refused_for_a_bank(tmp_path):
    source = small(tmp_path / "c.png", (8, 8))
    done = run("apply", "-", "-k", "sobel-x", "-k", "box", "--bank", "-o", str(tmp_path / "o/"),
               stdin=source.read_bytes())  # fmt: skip
    assert done.exit_code == 2
    assert "standard input has no name" in done.stderr


# --- the montage ----------------------------------------------------------------------


@pytest.mark.parametrize("colormap", [None, "coolwarm"])
def test_the_sheet_has_the_input_then_each_response_in_order_labelled(tmp_path, colormap):
    source = small(tmp_path / "pic.png", (40, 100, 3), seed=1)
    sheet_path = tmp_path / "sheet.png"
    coloured = ["--colormap", colormap] if colormap else []
    done = run("apply", str(source), *kernels(*BANK), "--bank", "-o", str(tmp_path / "out"),
               "--montage", str(sheet_path), "-q", *coloured)  # fmt: skip
    assert done.exit_code == 0, done.stderr
    sheet = read(sheet_path)
    # Small enough to be shown whole: each tile is the picture as written, pixel for pixel
    # (with a colormap too: the sheet previews the files, each in its kernel's range).
    tag = f"_{colormap}" if colormap else ""
    pictures = [read(source)] + [read(tmp_path / "out" / f"pic_{n}{tag}.png") for n in NAMES]
    places = []
    for picture in pictures:
        found = find(sheet, rgb(picture))
        assert len(found) == 1
        places.append(found[0])
    assert len({y for y, _ in places}) == 1  # one row
    assert [x for _, x in places] == sorted(x for _, x in places)  # in the kernels' order
    ranges = [None, "abs", "clip", "abs"]  # sobel-x's and laplacian's own, else clip
    for (y, x), text, mapped in zip(places, ["pic.png", *BANK], ranges, strict=True):
        strip = sheet[y + 40 : y + 40 + 56, max(0, x - 85) : x + 100 + 85]  # below the tile
        assert find(strip, label(text)), text
        assert find(strip, label("40x100")), text
        assert bool(find(strip, label(f"range {mapped}"))) == (mapped is not None), text


def test_a_coloured_sheet_shows_the_files_reduced_as_any_picture_is(tmp_path):
    source = small(tmp_path / "big.png", (300, 280), seed=2)
    done = run("apply", str(source), *kernels("sobel-x", "box:3"), "--bank", "--colormap",
               "coolwarm", "-o", str(tmp_path / "out"), "--montage", str(tmp_path / "sheet.png"),
               "-q")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    sheet = read(tmp_path / "sheet.png")
    for name in ("sobel-x", "box-size-3"):
        written = read(tmp_path / "out" / f"big_{name}_coolwarm.png").astype(float)
        means = (written[0::2, 0::2] + written[1::2, 0::2] + written[0::2, 1::2]
                 + written[1::2, 1::2]) / 4  # fmt: skip
        assert len(find(sheet, np.rint(means), tolerance=1)) == 1
    assert find(sheet, label("range abs"))
    assert find(sheet, label("range clip"))


def test_large_pictures_are_shown_reduced_and_the_label_says_so(tmp_path):
    source = small(tmp_path / "big.png", (300, 280), seed=2)
    done = run("apply", str(source), *kernels("box:3", "sobel-y"), "--bank", "-o",
               str(tmp_path / "out"), "--montage", str(tmp_path / "sheet.png"), "-q")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    sheet = read(tmp_path / "sheet.png")
    for name in ("box-size-3", "sobel-y"):
        written = read(tmp_path / "out" / f"big_{name}.png").astype(float)
        # 300 rows > 256: each pixel of the tile is the mean of 2 x 2 of the output.
        means = (written[0::2, 0::2] + written[1::2, 0::2] + written[0::2, 1::2]
                 + written[1::2, 1::2]) / 4  # fmt: skip
        assert len(find(sheet, rgb(np.rint(means)), tolerance=1)) == 1
    assert find(sheet, label("300x280, shown at 1/2"))
    assert sheet.shape[0] < 330  # bounded: a tile of 150 rows, its labels and the title
    assert sheet.shape[1] < 3 * 300


def test_small_pictures_are_enlarged_and_kernels_labelled_as_typed(tmp_path):
    source = small(tmp_path / "tiny.png", (12, 10), seed=4)
    spec = "[[0,1,0],[1,-4,1],[0,1,0]]"
    done = run("apply", str(source), "-k", spec, "--bank", "-o", str(tmp_path / "out"),
               "--montage", str(tmp_path / "sheet.png"), "-q")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    sheet = read(tmp_path / "sheet.png")
    (written,) = (tmp_path / "out").iterdir()
    for picture in (read(source), read(written)):  # each pixel an 8 x 8 square: 96 px a side
        assert len(find(sheet, np.kron(rgb(picture), np.ones((8, 8, 1), dtype=np.uint8)))) == 1
    assert find(sheet, label("12x10, shown at 8x"))
    assert find(sheet, label(spec))


def test_heat_maps_on_one_shared_scale_or_each_its_own(tmp_path):
    source = small(tmp_path / "g.png", (60, 100), seed=3)  # grey: the response is the input x k
    values = read(source).astype(float)
    table = lookup_table("coolwarm")

    def coloured(response, scale):  # coolwarm is diverging: -scale..scale, 0 at the middle
        levels = np.clip((response + scale) / (2 * scale) * 255 + 0.5, 0, 255).astype(int)
        return table[levels]

    peak = values.max()
    for scale, half_scale in (("shared", 2 * peak), ("each", peak)):
        sheet_path = tmp_path / f"{scale}.png"
        done = run("apply", str(source), *kernels("[[2]]", "identity"), "--bank", "--colormap",
                   "coolwarm", "--montage", str(sheet_path), "--montage-scale", scale, "-o",
                   str(tmp_path / scale), "-q")  # fmt: skip
        assert done.exit_code == 0, done.stderr
        sheet = read(sheet_path)
        doubled = find(sheet, coloured(2 * values, 2 * peak))
        single = find(sheet, coloured(values, half_scale))
        if scale == "shared":
            assert len(doubled) == len(single) == 1
            assert doubled[0][1] < single[0][1]  # in the kernels' order
        else:  # each on its own scale: twice the values look the same
            assert doubled == single
            assert len(single) == 2
        assert find(sheet, label(f"{half_scale:.4g}"))  # the scale, stated
        # The files' ranges: with a colormap, the kernel's (identity's clip), else rescale.
        assert len(find(sheet, label("file: range rescale"))) == 1
        assert len(find(sheet, label("file: range clip"))) == 1


def test_reduced_heat_maps_keep_each_blocks_strongest_value_and_its_sign(tmp_path):
    source = small(tmp_path / "g.png", (300, 202), seed=5)
    values = read(source).astype(float)
    done = run("apply", str(source), *kernels("[[1]]", "[[-1]]"), "--bank", "--colormap",
               "coolwarm", "--montage", str(tmp_path / "sheet.png"), "--montage-scale", "each",
               "-o", str(tmp_path / "out"), "-q")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    sheet = read(tmp_path / "sheet.png")
    strongest = np.zeros((150, 101))
    for r in range(150):  # each 2 x 2 block's value of largest magnitude
        for c in range(101):
            strongest[r, c] = values[2 * r : 2 * r + 2, 2 * c : 2 * c + 2].max()
    table, peak = lookup_table("coolwarm"), values.max()
    for response in (strongest, -strongest):  # [[1]] and [[-1]]: the same magnitudes
        levels = np.clip((response + peak) / (2 * peak) * 255 + 0.5, 0, 255).astype(int)
        assert len(find(sheet, table[levels])) == 1
    assert find(sheet, label("300x202, shown at 1/2 (strongest)"))


def test_heat_maps_come_from_the_jobs_the_same_from_worker_processes(tmp_path):
    # The values are reduced where each job runs and come back with its report:
    # run here (-j 1) or in two worker processes, the sheets are the same bytes.
    sources = [str(small(tmp_path / f"{n}.png", (300, 202), seed=n)) for n in (1, 2)]
    sheets = []
    for jobs in ("1", "2"):
        sheet = tmp_path / f"sheet{jobs}.png"
        done = run("apply", *sources, *kernels("sobel-x", "log:sigma=2"), "--bank",
                   "--colormap", "viridis", "--montage", str(sheet), "--montage-scale",
                   "shared", "-o", str(tmp_path / f"out{jobs}"), "-j", jobs, "--json")  # fmt: skip
        assert done.exit_code == 0, done.stderr
        records = [json.loads(line) for line in done.stdout.splitlines()]
        assert len(records) == 4
        assert all("heat_tile" not in record for record in records)  # the tile is no record's
        sheets.append(sheet.read_bytes())
    assert sheets[0] == sheets[1]
    assert find(read(tmp_path / "sheet1.png"), label("300x202, shown at 1/2 (strongest)"))


def test_raw_float_outputs_are_shown_rescaled_and_the_label_says_from_what(tmp_path):
    source = tmp_path / "g.png"  # 10 to 137: unlike its rescaled responses
    Image.fromarray(read(small(source, (60, 100), seed=6)) // 2 + 10).save(source)
    done = run("apply", str(source), *kernels("[[-1]]", "[[2]]"), "--bank", "--format", "npy",
               "-o", str(tmp_path / "out"), "--montage", str(tmp_path / "sheet.png"), "-q")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    sheet = read(tmp_path / "sheet.png")
    values = read(source).astype(float)
    for response in (-values, 2 * values):  # raw: no picture's range; least to greatest
        low, high = response.min(), response.max()
        grey = np.floor((response - low) * 255 / (high - low) + 0.5)
        assert len(find(sheet, rgb(grey), tolerance=1)) == 1
        assert find(sheet, label(f"rescaled from {low:.4g} to {high:.4g}"))


def test_a_failed_input_leaves_an_empty_tile_and_the_sheet_is_still_written(tmp_path):
    good = small(tmp_path / "a.png", (20, 20))
    broken = tmp_path / "b.png"
    broken.write_bytes(good.read_bytes()[:60])  # truncated
    done = run("apply", str(good), str(broken), *kernels("box", "sobel-x"), "--bank", "-o",
               str(tmp_path / "out"), "--montage", str(tmp_path / "sheet.jpg"), "-q")  # fmt: skip
    assert done.exit_code == 1
    with Image.open(tmp_path / "sheet.jpg") as sheet:
        assert sheet.format == "JPEG"  # the suffix's format, through Pillow
    assert not list(tmp_path.glob(".*.part"))


# --- kernels show --picture -----------------------------------------------------------


def test_kernel_picture_colours_each_weight_on_a_scale_centred_on_zero(tmp_path):
    done = run("kernels", "show", "sobel-x", "--picture", str(tmp_path / "k.png"))
    assert done.exit_code == 0, done.stderr
    picture = read(tmp_path / "k.png")
    table = lookup_table("coolwarm")
    # sobel-x is [[-1,0,1],[-2,0,2],[-1,0,1]]: -2..2 across the map, 0 at its middle.
    level = {w: int((w + 2) / 4 * 255 + 0.5) for w in (-2, -1, 0, 1, 2)}
    assert tuple(table[level[-2]]) == tuple(table[0])  # blue
    areas, centres = {}, {}
    for weight, at in level.items():
        where = np.argwhere((picture == table[at]).all(axis=2))
        areas[weight], centres[weight] = len(where), where.mean(axis=0)
    assert table[level[-2]][2] > 150 > table[level[-2]][0]  # negative: blue
    assert table[level[2]][0] > 150 > table[level[2]][2]  # positive: red
    assert abs(int(table[level[0]][0]) - int(table[level[0]][2])) < 20  # zero: the grey middle
    # One cell of -2 and of 2, two of -1 and of 1, three of 0 (less the written values).
    for weight, cells in ((-1, 2), (0, 3), (1, 2), (2, 1)):
        assert areas[weight] == pytest.approx(cells * areas[-2], rel=0.2), weight
    assert centres[-2][1] < centres[0][1] < centres[2][1]  # left column, middle, right
    assert centres[-2][0] == pytest.approx(centres[2][0], abs=2)  # the same (middle) row
    assert find(picture, label("-2"))  # the range, stated
    assert find(picture, label("weights: blue negative, red positive, grey 0"))


def test_kernel_picture_is_bounded_and_bad_values_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = run("kernels", "show", "gaussian:sigma=40", "--picture", "g.png")
    assert done.exit_code == 0, done.stderr
    with Image.open("g.png") as image:
        assert max(image.size) <= 1000  # a 241x241 kernel, a pixel or so a cell
    for arguments, said in [
        (["sobel-x", "--picture", "-"], "not standard output"),
        (["sobel-x", "--picture", "k.xyz"], "suffix"),
        (["sobel-x", "--picture", "k.xbm"], "cannot write a colour picture as XBM"),
        (["sobel-x", "--picture", "missing/k.png"], "does not exist"),
        (["[" + ",".join(["1"] * 1025) + "]", "--picture", "k.png"], "up to 1024 cells"),
    ]:
        refused = run("kernels", "show", *arguments)
        assert refused.exit_code == 2, (arguments, refused.output)
        assert len(refused.stderr.splitlines()) == 1
        assert said in refused.stderr
    assert files(tmp_path) == {"g.png"}


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_a_sheet_in_an_input_folder_is_left_out_the_next_time(tmp_path, photos, suffix):
    sheet = photos / f"sheet{suffix}"
    for _ in range(2):  # the second run finds the sheet among its inputs
        done = run("apply", str(photos), *kernels("box", "sobel-x"), "--bank", "-o",
                   str(tmp_path / "out"), "--montage", str(sheet), "--json")  # fmt: skip
        assert done.exit_code == 0, done.stderr
        assert {Path(json.loads(line)["input"]).name for line in done.stdout.splitlines()} == {
            "camera.png",
            "coins.png",
        }
    assert "left out 1 file that convcli made" in done.stderr


def test_a_bank_on_a_local_cluster_writes_what_one_process_writes(tmp_path, photos):
    pytest.importorskip("distributed")
    (photos / "broken.png").write_bytes((photos / "coins.png").read_bytes()[:200])
    arguments = [str(photos), *kernels("sobel-x", "box"), "--bank", "--json"]
    here = run("apply", *arguments, "-o", str(tmp_path / "here"), "-j", "1")
    there = run("apply", *arguments, "-o", str(tmp_path / "there"), "--scheduler", "local:1")
    assert here.exit_code == there.exit_code == 1  # the broken input, once per kernel
    records = [list(map(json.loads, done.stdout.splitlines())) for done in (here, there)]
    assert [(r["input"], r["kernel"], r["status"]) for r in records[0]] == [
        (r["input"], r["kernel"], r["status"]) for r in records[1]
    ]
    assert [r["kernel"] for r in records[1] if r["status"] == "error"] == ["sobel-x", "box"]
    assert files(tmp_path / "here") == files(tmp_path / "there") != set()
    for name in files(tmp_path / "here"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes()


def test_labels_stay_on_one_line_as_error_lines_do(tmp_path):
    small(tmp_path / "two\nlines.png", (40, 100))
    done = run("apply", str(tmp_path / "two\nlines.png"), "-k", "box", "--bank", "-o",
               str(tmp_path / "out"), "--montage", str(tmp_path / "sheet.png"), "-q")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert find(read(tmp_path / "sheet.png"), label("two\\nlines.png"))  # escaped, as repr does


@pytest.mark.parametrize(
    ("output", "template", "tile", "said"),
    [
        ("-", None, None, "bank writes one file per kernel: they cannot all go to standard "
                          "output; give output FOLDER/"),
        (None, "{stem}{suffix}", None, "bank: template '{stem}{suffix}' leaves the kernel out, so "
                                       "every kernel's output would have one name; put {kernel} "
                                       "or {tag} in it"),
        (None, None, 64, "bank does not take tile: filter a huge array one kernel at a time"),
    ],
)  # fmt: skip
def test_the_library_refuses_a_bank_naming_its_parameters(output, template, tile, said):
    from convcli.catalog.lookup import load_kernel
    from convcli.errors import ParameterError
    from convcli.run.checks import check_bank
    from convcli.run.model import Settings

    settings = Settings(kernels=(load_kernel("sobel-x"), load_kernel("box")))
    with pytest.raises(ParameterError) as refused:
        check_bank(settings, ["c.png"], output, template, tile)
    assert refused.value.parameter == "bank"
    assert str(refused.value) == said  # the command line words the same error as its options
