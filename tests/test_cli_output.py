"""Fitting tables to a terminal: pure, so hypothesis alone."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from runai_registry_async.cli._output import GAP, clip, fit_widths, table

widths = st.lists(st.integers(1, 200), min_size=1, max_size=8)


@given(widths, st.integers(1, 400))
def test_fitted_widths_fit_whenever_one_character_a_column_would(
    original: list[int], limit: int
) -> None:
    fitted = fit_widths(original, limit)
    assert len(fitted) == len(original)
    assert all(1 <= f <= w for f, w in zip(fitted, original, strict=True))
    gaps = GAP * (len(original) - 1)
    if len(original) + gaps <= limit:
        assert sum(fitted) + gaps <= limit
    if sum(original) + gaps <= limit:
        assert fitted == original  # nothing cut when it fits


@given(widths, st.integers(1, 400))
def test_only_the_widest_columns_give_way_and_no_more_than_needed(
    original: list[int], limit: int
) -> None:
    fitted = fit_widths(original, limit)
    cap = max(fitted)
    # One common cap: a column under it is whole...
    assert all(f == w for f, w in zip(fitted, original, strict=True) if w <= cap)
    # ...and the cap is the largest that fits (unless nothing was cut at all).
    if fitted != original and len(original) + GAP * (len(original) - 1) <= limit:
        wider = [min(w, cap + 1) for w in original]
        assert sum(wider) + GAP * (len(original) - 1) > limit


@given(st.text(max_size=50), st.integers(1, 60))
def test_clip_marks_a_cut_with_an_ellipsis(cell: str, width: int) -> None:
    clipped = clip(cell, width)
    if len(cell) <= width:
        assert clipped == cell
    else:
        assert (len(clipped), clipped[-1], clipped[:-1]) == (width, "…", cell[: width - 1])


def test_a_fitted_table_keeps_its_columns_aligned() -> None:
    rows = [["1", "short", "x" * 60], ["22", "a much longer name", "y"]]
    lines = table(["ID", "NAME", "URL"], rows, width=40).splitlines()
    assert all(len(line) <= 40 for line in lines)
    assert lines[1].startswith("1   short")
    assert lines[1].index("x") == lines[0].index("URL")
    assert lines[1].endswith("…")
