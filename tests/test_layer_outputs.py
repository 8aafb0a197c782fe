"""Writing a layer's feature maps: .npy (H, W, C), TIFF pages, Zarr, image formats, one file each.

Expected values come from the test's own arithmetic; files are read back by
readers other than convcli's writer (tifffile, Pillow, imagecodecs, zarr).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from convcli.catalog.lookup import load_kernel
from convcli.choices import DEFAULT_TEMPLATE, Range
from convcli.errors import InputError, UsageError
from convcli.io.formats import output_format
from convcli.io.metadata import Metadata
from convcli.io.writing import write_image
from convcli.naming import map_names
from convcli.ranges import map_bounds, map_range
from convcli.run.model import Settings
from convcli.run.output import write_map_files, write_output
from convcli.run.prepare import check_maps
from helpers import run

SETTINGS = Settings(kernels=(load_kernel("sobel-x"),))


def feature_maps(count: int, shape: tuple[int, int] = (5, 7), seed: int = 0) -> np.ndarray:
    """(H, W, C) float32 maps of both signs, each on a scale of its own."""
    rng = np.random.default_rng(seed)
    scales = np.arange(1, count + 1, dtype=np.float32)
    return (rng.standard_normal((*shape, count)) * scales).astype(np.float32)


def encoded(maps: np.ndarray, suffix: str, metadata: Metadata | None = None) -> bytes:
    stream = io.BytesIO()
    write_image(stream, maps, None, output_format(suffix).for_maps(), metadata)
    return stream.getvalue()


@pytest.mark.parametrize("count", [1, 3, 64, 300])
def test_npy_holds_the_maps_channels_last(count):
    maps = feature_maps(count)
    back = np.load(io.BytesIO(encoded(maps, "npy")))
    assert back.shape == (5, 7, count)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, maps)
    first = np.moveaxis(back, -1, 0)  # the README's way to PyTorch's (C, H, W)
    np.testing.assert_array_equal(first[count - 1], maps[:, :, count - 1])


@pytest.mark.parametrize("count", [1, 3, 4, 64])
def test_a_tiff_holds_one_float_page_per_map_in_the_filters_order(count):
    import imagecodecs

    maps = feature_maps(count)
    data = encoded(maps, "tif")
    with tifffile.TiffFile(io.BytesIO(data)) as tiff:
        assert len(tiff.pages) == count
        for index, page in enumerate(tiff.pages):
            assert page.dtype == np.float32
            assert page.shape == (5, 7)
            assert page.photometric == tifffile.PHOTOMETRIC.MINISBLACK
            np.testing.assert_array_equal(page.asarray(), maps[..., index])
    with Image.open(io.BytesIO(data)) as image:  # libtiff, through Pillow
        assert image.n_frames == count
        for index in range(count):
            image.seek(index)
            assert image.mode == "F"
            np.testing.assert_array_equal(np.asarray(image), maps[..., index])
    last = imagecodecs.tiff_decode(data, index=count - 1)
    np.testing.assert_array_equal(last, maps[..., -1])


def test_one_map_of_a_three_d_filter_is_one_page():
    plane = feature_maps(1)[..., 0]
    with tifffile.TiffFile(io.BytesIO(encoded(plane, "tiff"))) as tiff:
        assert len(tiff.pages) == 1
        np.testing.assert_array_equal(tiff.pages[0].asarray(), plane)


def test_a_tiff_of_maps_carries_resolution_and_provenance_on_its_first_page():
    made = Metadata(dpi=(300.0, 150.0), software="convcli 9", description='{"kernels":[]}')
    with tifffile.TiffFile(io.BytesIO(encoded(feature_maps(3), "tif", made))) as tiff:
        first, second = tiff.pages[0].tags, tiff.pages[1].tags
        assert first["XResolution"].value == (300, 1)
        assert first["YResolution"].value == (150, 1)
        assert first["Software"].value == "convcli 9"
        assert first["ImageDescription"].value == '{"kernels":[]}'
        assert "Software" not in second
        assert "ImageDescription" not in second


def test_image_formats_hold_one_map_as_grey_and_three_as_rgb(tmp_path):
    fmt = output_format("png").for_maps()
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
    rgb = np.arange(36, dtype=np.uint8).reshape(3, 4, 3)
    alpha = np.zeros((3, 4), np.uint8)  # a map has no transparency: left out, not composited
    for maps, mode in ((grey, "L"), (rgb, "RGB")):
        target = tmp_path / f"{mode}.png"
        write_output(target, maps, alpha, fmt, SETTINGS, Metadata(), str(target))
        with Image.open(target) as image:
            assert image.mode == mode
            np.testing.assert_array_equal(np.asarray(image), maps.squeeze())


@pytest.mark.parametrize("count", [2, 4, 64])
@pytest.mark.parametrize("suffix", ["png", "jpg", "webp", "bmp"])
def test_other_counts_are_refused_naming_what_holds_them(count, suffix):
    fmt = output_format(suffix).for_maps()
    with pytest.raises(UsageError) as refused:
        check_maps((10, 10, count), fmt)
    said = refused.value.worded(lambda name: "--" + name)
    assert said == (
        f"{fmt.name} holds 1 feature map (grey) or 3 (as RGB), not {count}: write .npy or .tif "
        "for every map in one file, or give --bank for one file per map"
    )
    assert refused.value.exit_code == 2


@pytest.mark.parametrize("suffix", ["npy", "tif", "zarr"])
def test_arrays_and_tiffs_hold_any_count(suffix):
    check_maps((10, 10, 512), output_format(suffix).for_maps())
    check_maps((10, 10), output_format("png").for_maps())  # one filter's map


def test_rescale_maps_each_map_from_its_own_least_to_its_greatest():
    maps = feature_maps(4, (6, 6), seed=3)
    maps[2, 3, 1] = np.nan  # no value of its own: left out of its map's bounds
    maps[..., 3] = 7.0  # a flat map: 0 everywhere
    bands = [maps[:2], maps[2:]]  # as the pipeline finds them, band by band
    mapped = map_range(maps, Range.RESCALE, white=255, depth="uint8", bounds=map_bounds(bands))
    for index in range(3):
        one = maps[..., index].astype(np.float64)
        low, high = np.nanmin(one), np.nanmax(one)
        expected = np.rint(np.nan_to_num((one - low) / (high - low) * 255, nan=0.0))
        np.testing.assert_allclose(mapped.values[..., index], expected, atol=1)
        assert mapped.values[..., index].min() == 0
        assert mapped.values[..., index].max() == 255
    assert not mapped.values[..., 3].any()


def test_map_bounds_with_no_finite_value_is_nan():
    low, high = map_bounds([np.array([[[np.inf, 1.0], [np.nan, -2.0]]])])
    assert np.isnan(low[0])
    assert np.isnan(high[0])
    assert (low[1], high[1]) == (-2.0, 1.0)
    assert map_bounds([]) is None


def test_a_bank_names_each_map_after_its_kernel_and_index(tmp_path):
    photo = tmp_path / "photo.png"
    assert map_names(photo, SETTINGS, ".png", DEFAULT_TEMPLATE, 3) == [
        "photo_sobel-x-0.png",
        "photo_sobel-x-1.png",
        "photo_sobel-x-2.png",
    ]
    names = map_names(photo, SETTINGS, ".png", "{kernel}.{stem}{suffix}", 100)
    assert names[7] == "sobel-x-007.photo.png"
    assert names[99] == "sobel-x-099.photo.png"
    assert names == sorted(names)


def test_a_bank_writes_each_map_to_its_own_file(tmp_path):
    maps = np.arange(4 * 5 * 3, dtype=np.uint16).reshape(4, 5, 3) * 1000
    targets = [tmp_path / f"map-{index}.png" for index in range(3)]
    write_map_files(targets, maps, output_format("png"), SETTINGS, Metadata())
    for index, target in enumerate(targets):
        with Image.open(target) as image:
            np.testing.assert_array_equal(np.asarray(image), maps[..., index])
    assert sorted(path.name for path in tmp_path.iterdir()) == [t.name for t in targets]


def test_a_failed_map_leaves_no_file_of_the_bank(tmp_path, monkeypatch):
    from convcli.run import output

    written: list[int] = []

    def failing(stream, pixels, *args, **options):
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(1)
        stream.write(b"half")

    monkeypatch.setattr(output, "write_image", failing)
    (tmp_path / "map-0.png").write_bytes(b"older")  # an earlier run's: left as it was
    targets = [tmp_path / f"map-{index}.png" for index in range(4)]
    with pytest.raises(InputError, match=r"map-2.png: cannot write: No space left on device"):
        write_map_files(targets, feature_maps(4), output_format("png"), SETTINGS, Metadata())
    assert [path.name for path in tmp_path.iterdir()] == ["map-0.png"]
    assert (tmp_path / "map-0.png").read_bytes() == b"older"


def test_a_zarr_output_of_many_channels_is_chunked_by_tile_with_every_channel(tmp_path):
    pytest.importorskip("dask")
    zarr = pytest.importorskip("zarr")
    maps = feature_maps(40, (70, 53), seed=5)
    np.save(tmp_path / "maps.npy", maps)
    out = tmp_path / "blurred.zarr"
    result = run("apply", str(tmp_path / "maps.npy"), "-k", "box:3", "--pad-mode", "zero",
                 "--tile", "32", "-o", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    array = zarr.open_array(store=str(out), mode="r")
    assert array.shape == (70, 53, 40)
    assert array.chunks == (32, 32, 40)
    padded = np.pad(maps.astype(np.float64), ((1, 1), (1, 1), (0, 0)))
    expected = sum(padded[i : i + 70, j : j + 53] for i in range(3) for j in range(3)) / 9
    np.testing.assert_allclose(array[...], expected, rtol=1e-5, atol=1e-5)


# Through the command line: a small photo with a colour profile and a resolution, a layer's weights.


def conv2d_valid(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """conv2d without padding, by its definition: (H, W, C_in) and (C_out, C_in, kh, kw)."""
    windows = sliding_window_view(x.astype(np.float64), weights.shape[2:], axis=(0, 1))
    return np.einsum("yxcij,ocij->yxo", windows, weights.astype(np.float64))


@pytest.fixture
def photo(tmp_path) -> Path:
    from PIL import ImageCms

    pixels = np.random.default_rng(7).integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "photo.png"
    Image.fromarray(pixels).save(path, icc_profile=profile, dpi=(300, 300))
    return path


def weights(tmp_path: Path, count: int, seed: int = 1) -> tuple[Path, np.ndarray]:
    values = (np.random.default_rng(seed).standard_normal((count, 3, 3, 3)) / 9).astype(np.float32)
    np.save(tmp_path / "conv1.npy", values)
    return tmp_path / "conv1.npy", values


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image).astype(np.float64)


def test_a_tiff_of_a_layers_maps_through_the_command_line(tmp_path, photo):
    spec, values = weights(tmp_path, 5)
    target = tmp_path / "maps.tif"
    result = run("apply", str(photo), "-k", str(spec), "-p", "valid", "--range", "raw",
                 "-o", str(target), "-q")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    expected = conv2d_valid(pixels(photo), values)
    with tifffile.TiffFile(target) as tiff:
        assert len(tiff.pages) == 5
        first = tiff.pages[0].tags
        across, per = first["XResolution"].value
        assert across / per == pytest.approx(300, abs=0.01)  # the photo's, carried
        assert "InterColorProfile" not in first  # values, not colours
        pages = [page.asarray() for page in tiff.pages]
    with Image.open(target) as image:
        image.seek(4)
        np.testing.assert_allclose(np.asarray(image), expected[..., 4], rtol=1e-5, atol=1e-4)
    for index, page in enumerate(pages):
        np.testing.assert_allclose(page, expected[..., index], rtol=1e-5, atol=1e-4)
    assert result.stderr == (
        "convcli: note: feature maps are values, not colours: the colour profiles of their "
        "inputs were left out\n"
    )


def test_three_maps_are_an_rgb_picture_without_the_inputs_profile(tmp_path, photo):
    spec, values = weights(tmp_path, 3)
    target = tmp_path / "maps.png"
    result = run("apply", str(photo), "-k", str(spec), "-p", "valid", "--range", "rescale",
                 "-o", str(target), "-q")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    with Image.open(target) as image:
        assert image.mode == "RGB"
        assert image.info.get("icc_profile") is None
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    maps = conv2d_valid(pixels(photo), values)
    low, high = maps.min(axis=(0, 1)), maps.max(axis=(0, 1))  # each map its own
    np.testing.assert_allclose(pixels(target), (maps - low) / (high - low) * 255, atol=1)


@pytest.mark.parametrize("suffix", ["png", "jpg", "webp"])
def test_a_count_a_picture_cannot_hold_is_refused_before_filtering(
    tmp_path, photo, suffix, monkeypatch
):
    from convcli import engine

    spec, _ = weights(tmp_path, 8)
    second = tmp_path / "second.png"
    second.write_bytes(photo.read_bytes())
    filtered: list[object] = []
    monkeypatch.setattr(engine, "convolve_layer", lambda *args, **_: filtered.append(args))
    out = tmp_path / "out"
    result = run("apply", str(photo), str(second), "-k", str(spec), "--format", suffix,
                 "-o", f"{out}/")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"convcli: error: {photo}: {suffix} holds 1 feature map (grey) or 3 (as RGB), not 8: "
        "write .npy or .tif for every map in one file, or give --bank for one file per map"
    ]
    assert not filtered
    assert not out.exists() or not any(out.iterdir())


def test_a_pipelines_maps_a_picture_cannot_hold_are_not_sent_to_bank(tmp_path, photo):
    """--bank refuses a pipeline's steps: the refusal names only the files that hold the maps."""
    spec, _ = weights(tmp_path, 8)
    result = run("apply", str(photo), "-k", str(spec), "-k", "relu", "-o", str(tmp_path / "m.png"))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"convcli: error: {photo}: png holds 1 feature map (grey) or 3 (as RGB), not 8: "
        "write .npy or .tif for every map in one file"
    ]
    assert not (tmp_path / "m.png").exists()


def test_a_bank_writes_one_file_per_map_from_one_computation(tmp_path, photo, monkeypatch):
    from convcli import engine

    spec, values = weights(tmp_path, 12)
    computed: list[int] = []
    layer = engine.convolve_layer

    def counted(*args, **options):
        computed.append(1)
        return layer(*args, **options)

    monkeypatch.setattr(engine, "convolve_layer", counted)
    out = tmp_path / "maps"
    result = run("apply", str(photo), "-k", str(spec), "-p", "valid", "--range", "rescale",
                 "--bank", "-o", f"{out}/", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert computed == [1]
    names = [f"photo_conv1-{index:02d}_valid_rescale.png" for index in range(12)]
    assert sorted(path.name for path in out.iterdir()) == names
    maps = conv2d_valid(pixels(photo), values)
    for index, name in enumerate(names):
        one = maps[..., index]
        expected = (one - one.min()) / (one.max() - one.min()) * 255  # its own least and greatest
        with Image.open(out / name) as image:
            assert image.mode == "L"
        np.testing.assert_allclose(pixels(out / name), expected, atol=1)
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["output"] == str(out / names[0])


def test_a_bank_that_cannot_write_one_map_writes_none(tmp_path, photo, monkeypatch):
    from convcli.run import output

    spec, _ = weights(tmp_path, 12)
    encode = output.write_image
    written: list[int] = []

    def full_disk(*args, **options):
        if len(written) == 5:
            raise OSError(28, "No space left on device")
        written.append(1)
        encode(*args, **options)

    monkeypatch.setattr(output, "write_image", full_disk)
    out = tmp_path / "maps"
    result = run("apply", str(photo), "-k", str(spec), "--bank", "-o", f"{out}/", "-q")
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        f"convcli: error: {out / 'photo_conv1-05.png'}: cannot write: No space left on device"
    ]
    assert list(out.iterdir()) == []  # no map, and no temporary file


def test_a_tiff_of_maps_clips_to_the_inputs_white_unless_raw(tmp_path, photo):
    spec, values = weights(tmp_path, 4)
    target = tmp_path / "maps.tif"
    result = run("apply", str(photo), "-k", str(spec), "-p", "valid", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    maps = conv2d_valid(pixels(photo), values)
    outside = np.mean((maps < 0) | (maps > 255))
    pages = tifffile.imread(target)  # (C, H, W): one page a map
    np.testing.assert_allclose(np.moveaxis(pages, 0, -1), np.clip(maps, 0, 255), atol=1e-3)
    assert (
        f"{photo} with conv1 -> {target}: {outside:.0%} of the values fell outside 0 to 255 and "
        "were clipped; --range raw keeps them"
    ) in result.stderr


def test_maps_leave_the_alpha_out_and_say_so(tmp_path, photo):
    with Image.open(photo) as image:
        image.convert("RGBA").save(tmp_path / "clear.png")
    spec, _ = weights(tmp_path, 3)
    target = tmp_path / "maps.png"
    result = run("apply", str(tmp_path / "clear.png"), "-k", str(spec), "-o", str(target), "-q")
    assert result.exit_code == 0, result.stderr
    with Image.open(target) as image:
        assert image.mode == "RGB"
    assert "convcli: note: feature maps have no alpha: that of their inputs was left out\n" in (
        result.stderr
    )


def test_maps_past_four_gigabytes_are_a_bigtiff(monkeypatch):
    from convcli.io import writing

    monkeypatch.setattr(writing, "BIGTIFF_BYTES", 200)  # 5 x 7 x 4 floats: 560 bytes
    with tifffile.TiffFile(io.BytesIO(encoded(feature_maps(4), "tif"))) as tiff:
        assert tiff.is_bigtiff
        assert len(tiff.pages) == 4
    with tifffile.TiffFile(io.BytesIO(encoded(feature_maps(1), "tif"))) as tiff:
        assert not tiff.is_bigtiff  # 140 bytes


def test_a_bank_writes_its_maps_as_objects_in_a_store(tmp_path, photo, monkeypatch):
    pytest.importorskip("upath", reason='needs the remote extra: pip install ".[remote]"')
    import fsspec

    from convcli.run import output

    spec, values = weights(tmp_path, 3)
    store, prefix = fsspec.filesystem("memory"), f"/{tmp_path.name}"
    url = f"memory://{tmp_path.name}/maps/"
    result = run("apply", str(photo), "-k", str(spec), "-p", "valid", "--range", "raw",
                 "--format", "tif", "--bank", "-o", url, "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    names = [f"photo_conv1-{index}_valid_raw.tif" for index in range(3)]
    assert sorted(store.find(prefix)) == [f"{prefix}/maps/{name}" for name in names]
    maps = conv2d_valid(pixels(photo), values)
    for index, name in enumerate(names):
        page = tifffile.imread(io.BytesIO(store.cat(f"{prefix}/maps/{name}")))
        np.testing.assert_allclose(page, maps[..., index], rtol=1e-5, atol=1e-4)
    assert json.loads(result.stdout)["output"] == f"{url}{names[0]}"

    encode = output.write_image
    written: list[int] = []

    def failing(*args, **options):  # the third map's object cannot be made
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(1)
        encode(*args, **options)

    monkeypatch.setattr(output, "write_image", failing)
    again = f"memory://{tmp_path.name}/again/"
    result = run("apply", str(photo), "-k", str(spec), "--bank", "-o", again, "-q")
    assert result.exit_code == 1, result.output
    assert written == [1, 1]
    assert result.stderr.endswith("photo_conv1-2.png: cannot write: No space left on device\n")
    assert store.find(f"{prefix}/again") == []  # the two written are removed


def test_rescale_after_a_kernel_on_a_layers_maps_is_per_map_too(tmp_path, photo):
    spec, values = weights(tmp_path, 3)
    target = tmp_path / "maps.png"
    result = run("apply", str(photo), "-k", str(spec), "-k", "box:3", "-p", "valid",
                 "--range", "rescale", "-o", str(target), "-q")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    maps = conv2d_valid(pixels(photo), values)
    blurred = sum(maps[i : i + 8, j : j + 6] for i in range(3) for j in range(3)) / 9
    low, high = blurred.min(axis=(0, 1)), blurred.max(axis=(0, 1))
    np.testing.assert_allclose(pixels(target), (blurred - low) / (high - low) * 255, atol=1)
