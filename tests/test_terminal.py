"""At home in a terminal: suggestions for mistyped choices, first contact, guards."""

from __future__ import annotations

import pytest

from helpers import SAMPLES, run

COINS = str(SAMPLES / "coins.png")


@pytest.mark.parametrize(
    ("option", "value", "hint"),
    [
        ("--pad-mode", "mirror", "SciPy's 'mirror' is convcli's reflect"),
        ("--pad-mode", "nearest", "SciPy's 'nearest' is convcli's replicate"),
        ("--pad-mode", "grid-wrap", "SciPy's 'grid-wrap' is convcli's wrap"),
        ("--pad-mode", "BORDER_REFLECT_101", "OpenCV's BORDER_REFLECT_101 is convcli's reflect"),
        ("--pad-mode", "cv2.BORDER_REFLECT", "OpenCV's BORDER_REFLECT is convcli's symmetric"),
        ("--pad-mode", "zeros", "PyTorch's 'zeros' is convcli's zero"),
        ("--pad-mode", "replicat", "did you mean replicate?"),
        ("--range", "absolute", "did you mean abs?"),
        ("--range", "rescal", "did you mean rescale?"),
        ("--colormap", "virdis", "did you mean viridis?"),
        ("--method", "seperable", "did you mean separable?"),
    ],
)
def test_a_mistyped_choice_gets_a_suggestion(option, value, hint):
    result = run("apply", COINS, "-k", "box", option, value)
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(f"got {value!r}; {hint}")


def test_a_name_no_choice_resembles_gets_the_list_alone():
    result = run("apply", COINS, "-k", "box", "--colormap", "jet")
    assert result.stderr.strip().endswith("got 'jet'")


def test_the_library_message_stays_without_the_hint():
    from convcli import ConvcliError, convolve

    with pytest.raises(ConvcliError) as raised:
        convolve([1.0, 2.0], [1.0], pad_mode="mirror")
    assert str(raised.value).endswith("got 'mirror'")
    assert raised.value.hint == "SciPy's 'mirror' is convcli's reflect"
