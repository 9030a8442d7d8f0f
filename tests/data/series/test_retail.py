"""The Walmart retail files: tiny hand-written CSVs (fills, merge, panel levels, one-line errors), the shared archive
(421,570 rows, counts recomputed from the raw CSVs with the csv module) and the series EDA figures."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainlab.data.series.panel import SeriesPanel
from trainlab.data.series.retail import (
    COVARIATES,
    FEATURES_FILE,
    FILE_NAMES,
    MARKDOWNS,
    MISSING_FLAGS,
    SALES_FILE,
    STORES_FILE,
    read_retail,
    retail_panel,
)
from trainlab.errors import TrainlabError
from trainlab.report.eda_series import HOLIDAY_COLOR, plot_series_eda

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SALES_HEADER = "Store,Dept,Date,Weekly_Sales,IsHoliday"
FEATURES_HEADER = ("Store,Date,Temperature,Fuel_Price,MarkDown1,MarkDown2,MarkDown3,MarkDown4,MarkDown5,CPI,"
                   "Unemployment,IsHoliday")
# Store 1 (A): depts 1 and 2 over three weeks, dept 2 missing in week 2; store 2 (B): dept 1 in weeks 2 and 3 only.
TINY_SALES = [SALES_HEADER, "1,1,05/02/2010,100.5,FALSE", "1,1,12/02/2010,200,TRUE", "1,1,19/02/2010,-5,FALSE",
              "1,2,05/02/2010,10,FALSE", "1,2,19/02/2010,30,FALSE", "2,1,12/02/2010,1000,TRUE",
              "2,1,19/02/2010,2000,FALSE"]
# Store 1 lacks CPI in week 1 (backward-filled) and Unemployment in week 3 (forward-filled); store 2 has no
# features row for week 1 (it sold nothing then) and a week 4 after the last sale.
TINY_FEATURES = [FEATURES_HEADER, "1,05/02/2010,40,2.5,NA,NA,NA,NA,NA,NA,8.0,FALSE",
                 "1,12/02/2010,41,2.6,1.5,NA,NA,NA,NA,211.0,8.1,TRUE",
                 "1,19/02/2010,42,2.7,2.5,0,NA,NA,NA,212.0,NA,FALSE",
                 "2,12/02/2010,50,3.0,NA,NA,NA,NA,NA,150.0,6.0,TRUE",
                 "2,19/02/2010,51,3.1,NA,NA,NA,NA,7.0,151.0,6.5,FALSE",
                 "2,26/02/2010,52,3.2,NA,NA,NA,NA,NA,NA,NA,FALSE"]
TINY_STORES = ["Store,Type,Size", "1,A,150000", "2,B,50000"]
TINY = {SALES_FILE: TINY_SALES, FEATURES_FILE: TINY_FEATURES, STORES_FILE: TINY_STORES}


def _csv(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


@pytest.fixture
def write_retail(tmp_path: Path) -> Callable[..., Path]:
    """``write_retail(**{file name: lines or None}, zipped=False)``: the tiny files in a fresh folder (or zip), with
    the named ones replaced (None: left out)."""
    count = iter(range(100))

    def write(changes: dict[str, list[str] | None] | None = None, zipped: bool = False) -> Path:
        files = {**TINY, **(changes or {})}
        target = tmp_path / f"retail_{next(count)}"
        if zipped:
            target = target.with_suffix(".zip")
            with zipfile.ZipFile(target, "w") as archive:
                for name, lines in files.items():
                    if lines is not None:
                        archive.writestr(f"retail/{name}", _csv(lines))
            return target
        target.mkdir()
        for name, lines in files.items():
            if lines is not None:
                (target / name).write_bytes(_csv(lines))
        return target

    return write


def _error(path: Path) -> str:
    with pytest.raises(TrainlabError) as caught:
        read_retail(path)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# --- tiny files: reading and filling ---------------------------------------------------------------------------------


def test_read_retail_merges_the_three_files_and_fills_features(write_retail: Callable[..., Path]) -> None:
    frame = read_retail(write_retail())
    assert len(frame) == 7 and frame["Date"].dtype.kind == "M"
    assert frame["Weekly_Sales"].tolist() == [100.5, 200.0, -5.0, 10.0, 30.0, 1000.0, 2000.0]
    assert frame["IsHoliday"].tolist() == [0, 1, 0, 0, 0, 1, 0]
    store1 = frame[(frame["Store"] == 1) & (frame["Dept"] == 1)]
    assert store1["CPI"].tolist() == [211.0, 211.0, 212.0]  # week 1 backward-filled
    assert store1["Unemployment"].tolist() == [8.0, 8.1, 8.1]  # week 3 forward-filled
    assert store1["MarkDown1"].tolist() == [0.0, 1.5, 2.5] and store1["MarkDown1_missing"].tolist() == [1, 0, 0]
    assert store1["MarkDown2"].tolist() == [0.0, 0.0, 0.0] and store1["MarkDown2_missing"].tolist() == [1, 1, 0]
    assert frame.loc[frame["Store"] == 2, ["Type", "Size", "Type_A", "Type_B", "Type_C"]].drop_duplicates().values \
        .tolist() == [["B", 50000, 0, 1, 0]]
    assert not frame.isna().any().any()


def test_the_zip_form_gives_the_same_frame_with_entries_in_a_subfolder(write_retail: Callable[..., Path]) -> None:
    pd.testing.assert_frame_equal(read_retail(write_retail(zipped=True)), read_retail(write_retail()))


# --- tiny files: the panel -------------------------------------------------------------------------------------------


def test_store_dept_panel_has_nan_where_a_series_has_no_row(write_retail: Callable[..., Path]) -> None:
    panel = retail_panel(read_retail(write_retail()), "store_dept")
    assert panel.names == ("store 1 dept 1", "store 1 dept 2", "store 2 dept 1")
    assert panel.dates == ("2010-02-05", "2010-02-12", "2010-02-19")
    np.testing.assert_array_equal(panel.values, [[100.5, 200, -5], [10, np.nan, 30], [np.nan, 1000, 2000]])
    assert panel.holiday.tolist() == [False, True, False] and panel.rows == 7
    assert panel.static == {"store": (1, 1, 2), "dept": (1, 2, 1), "type": ("A", "A", "B"),
                            "size": (150000, 150000, 50000)}
    assert panel.covariates.dtype == np.float32 and panel.covariate_names == COVARIATES
    temperature = panel.covariates[:, :, COVARIATES.index("Temperature")]
    np.testing.assert_array_equal(temperature[1], [40, 41, 42])  # the store's, also in dept 2's empty week
    np.testing.assert_array_equal(temperature[2], [50, 50, 51])  # store 2's first week takes its next week's
    assert (panel.target, panel.unit) == ("Weekly_Sales", "sales")


def test_store_and_chain_panels_sum_sales_and_average_stores(write_retail: Callable[..., Path]) -> None:
    frame = read_retail(write_retail())
    store = retail_panel(frame, "store")
    assert store.names == ("store 1", "store 2")
    np.testing.assert_array_equal(store.values, [[110.5, 200, 25], [np.nan, 1000, 2000]])
    chain = retail_panel(frame, "chain")
    assert chain.names == ("chain",) and chain.static == {"store": ("all",), "type": ("all",), "size": (100000.0,)}
    np.testing.assert_array_equal(chain.values, [[110.5, 1200, 2025]])
    covariate = dict(zip(COVARIATES, chain.covariates[0, 2], strict=True))
    assert covariate["Size"] == 100000 and covariate["Type_A"] == covariate["Type_B"] == 0.5
    assert covariate["Temperature"] == pytest.approx((42 + 51) / 2)
    assert covariate["MarkDown5_missing"] == 0.5


def test_unknown_level_names_the_option_and_the_levels(write_retail: Callable[..., Path]) -> None:
    with pytest.raises(TrainlabError, match=r"data\.options\.level.*'dept'.*store_dept, store, chain"):
        retail_panel(read_retail(write_retail()), "dept")


def test_a_date_off_the_weekly_grid_is_an_error(write_retail: Callable[..., Path]) -> None:
    frame = read_retail(write_retail())
    frame.loc[2, "Date"] += pd.Timedelta(days=1)
    with pytest.raises(TrainlabError, match=r"20/02/2010 is not a whole number of weeks after .*05/02/2010"):
        retail_panel(frame, "store")


# --- tiny files: one-line errors -------------------------------------------------------------------------------------


def _replace(lines: list[str], index: int, line: str) -> list[str]:
    return [*lines[:index], line, *lines[index + 1 :]]


def test_missing_file_in_a_folder_names_the_folder_and_the_expected_names(write_retail: Callable[..., Path]) -> None:
    folder = write_retail({FEATURES_FILE: None})
    message = _error(folder)
    assert str(folder) in message and "lacks 'Features data set.csv'" in message
    assert all(repr(name) in message for name in FILE_NAMES)


def test_missing_file_in_a_zip_and_a_missing_path(write_retail: Callable[..., Path], tmp_path: Path) -> None:
    archive = write_retail({STORES_FILE: None}, zipped=True)
    assert f"{archive} lacks 'stores data-set.csv'" in _error(archive)
    assert "does not exist" in _error(tmp_path / "nowhere.zip")
    (tmp_path / "notes.txt").write_text("hello")
    assert "is not a readable zip archive" in _error(tmp_path / "notes.txt")


def test_missing_column_names_file_and_column(write_retail: Callable[..., Path]) -> None:
    folder = write_retail({SALES_FILE: [line.rsplit(",", 1)[0] for line in TINY_SALES]})
    message = _error(folder)
    assert str(folder / SALES_FILE) in message and "lacks the column(s) 'IsHoliday'" in message


@pytest.mark.parametrize(("file", "index", "line", "expected"), [
    (SALES_FILE, 3, "1,1,31/02/2010,-5,FALSE", "column 'Date', row 3: '31/02/2010' is not a date dd/mm/yyyy"),
    (SALES_FILE, 3, "1,1,2010-02-19,-5,FALSE", "column 'Date', row 3: '2010-02-19' is not a date dd/mm/yyyy"),
    (FEATURES_FILE, 2, "1,NA,41,2.6,1.5,NA,NA,NA,NA,211.0,8.1,TRUE",
     "column 'Date', row 2: an empty value (NA) is not a date dd/mm/yyyy"),
    (SALES_FILE, 4, "1,2,05/02/2010,ten,FALSE", "column 'Weekly_Sales', row 4: 'ten' is not a number"),
    (SALES_FILE, 4, "1,2,05/02/2010,NA,FALSE", "column 'Weekly_Sales', row 4: an empty value (NA) is not a number"),
    (SALES_FILE, 1, "1,1.5,05/02/2010,1,FALSE", "column 'Dept', row 1: '1.5' is not a whole number"),
    (SALES_FILE, 2, "1,1,12/02/2010,200,maybe", "column 'IsHoliday', row 2: 'maybe' is not TRUE or FALSE"),
    (STORES_FILE, 2, "2,D,50000", "column 'Type', row 2: 'D' is not a store type; expected one of A, B, C"),
])
def test_a_bad_cell_names_file_column_row_and_value(write_retail: Callable[..., Path], file: str, index: int,
                                                    line: str, expected: str) -> None:
    folder = write_retail({file: _replace(TINY[file], index, line)})
    assert _error(folder) == f"{folder / file}: {expected}"


def test_a_bad_cell_inside_a_zip_is_named_by_entry_and_archive(write_retail: Callable[..., Path]) -> None:
    archive = write_retail({SALES_FILE: _replace(TINY_SALES, 3, "1,1,31/02/2010,-5,FALSE")}, zipped=True)
    assert _error(archive).startswith(f"sales data-set.csv in {archive}: column 'Date', row 3: '31/02/2010'")


def test_duplicate_sales_key_names_file_key_and_rows(write_retail: Callable[..., Path]) -> None:
    folder = write_retail({SALES_FILE: [*TINY_SALES, "1,2,19/02/2010,31,FALSE"]})
    assert _error(folder) == (f"{folder / SALES_FILE}: Store 1, Dept 2, Date 19/02/2010 appears more than once (rows 5 "
                              f"and 8); expected one row per Store, Dept, Date")


def test_sales_of_an_unknown_store_names_both_files(write_retail: Callable[..., Path]) -> None:
    folder = write_retail({SALES_FILE: [*TINY_SALES, "3,1,19/02/2010,5,FALSE"]})
    assert _error(folder).startswith(f"{folder / SALES_FILE}: Store 3 (row 8) has no row in {folder / STORES_FILE}")


def test_sales_without_features_for_the_date_names_both_files(write_retail: Callable[..., Path]) -> None:
    folder = write_retail({SALES_FILE: [*TINY_SALES, "2,1,05/02/2010,5,FALSE"]})
    assert _error(folder).startswith(f"{folder / SALES_FILE}: Store 2, Date 05/02/2010 (row 8) has no row in "
                                     f"{folder / FEATURES_FILE}")


def test_a_store_without_any_cpi_is_an_error(write_retail: Callable[..., Path]) -> None:
    features = [line if not line.startswith("2,") else ",".join([*line.split(",")[:9], "NA", *line.split(",")[10:]])
                for line in TINY_FEATURES]
    folder = write_retail({FEATURES_FILE: features})
    assert _error(folder) == (f"{folder / FEATURES_FILE}: column 'CPI' has no value for Store 2; expected at least one "
                              f"number per store")


# --- the shared archive ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive(shared_data: Path) -> Path:
    path = shared_data / "walmart_retail" / "archive.zip"
    if not path.is_file():
        pytest.fail(f"{path} is missing from the shared data")
    return path


@pytest.fixture(scope="module")
def raw(archive: Path) -> dict[str, list[dict[str, str]]]:
    """The three CSVs as the csv module reads them (strings), independent of pandas."""
    with zipfile.ZipFile(archive) as zf:
        return {name: list(csv.DictReader(io.StringIO(zf.read(name).decode("utf-8"), newline="")))
                for name in FILE_NAMES}


@pytest.fixture(scope="module")
def frame(archive: Path) -> pd.DataFrame:
    return read_retail(archive)


def _iso(day: str) -> str:
    return f"{day[6:]}-{day[3:5]}-{day[:2]}"


def test_archive_merges_to_one_row_per_sales_row(frame: pd.DataFrame, raw: dict[str, list[dict[str, str]]]) -> None:
    sales = raw[SALES_FILE]
    assert len(frame) == len(sales) == 421_570
    assert frame["Store"].nunique() == 45 and frame["Date"].nunique() == 143
    assert not frame.isna().any().any()
    assert int(frame["IsHoliday"].sum()) == sum(row["IsHoliday"] == "TRUE" for row in sales) == 29_661
    assert int((frame["Weekly_Sales"] < 0).sum()) == sum(float(row["Weekly_Sales"]) < 0 for row in sales) == 1_285
    types = Counter(row["Type"] for row in raw[STORES_FILE])
    assert frame.drop_duplicates("Store")["Type"].value_counts().to_dict() == types == {"A": 22, "B": 17, "C": 6}


def test_markdown_flags_match_the_na_counts_of_the_features_file(
        frame: pd.DataFrame, raw: dict[str, list[dict[str, str]]]) -> None:
    features = raw[FEATURES_FILE]
    assert {name: sum(row[name] == "NA" for row in features) for name in MARKDOWNS} == {  # as SOURCE.md states
        "MarkDown1": 4158, "MarkDown2": 5269, "MarkDown3": 4577, "MarkDown4": 4726, "MarkDown5": 4140}
    missing = {(row["Store"], row["Date"]): [row[name] == "NA" for name in MARKDOWNS] for row in features}
    per_sales_row = [missing[(row["Store"], row["Date"])] for row in raw[SALES_FILE]]
    expected = dict(zip(MISSING_FLAGS, np.sum(per_sales_row, axis=0).tolist(), strict=True))
    assert {flag: int(frame[flag].sum()) for flag in MISSING_FLAGS} == expected
    sales_weeks = {row["Date"] for row in raw[SALES_FILE]}
    in_sales_period = np.sum([flags for (_, day), flags in missing.items() if day in sales_weeks], axis=0)
    store = retail_panel(frame, "store")
    flags = [COVARIATES.index(flag) for flag in MISSING_FLAGS]
    assert store.covariates[:, :, flags].sum(axis=(0, 1)).tolist() == in_sales_period.tolist()


def test_archive_panels_at_each_level(frame: pd.DataFrame, raw: dict[str, list[dict[str, str]]]) -> None:
    pairs = {(row["Store"], row["Dept"]) for row in raw[SALES_FILE]}
    store_dept = retail_panel(frame, "store_dept")
    assert store_dept.series_count == len(pairs) == 3331 and store_dept.steps == 143
    assert int(np.isfinite(store_dept.values).sum()) == 421_570
    assert store_dept.names[0] == "store 1 dept 1" and store_dept.covariates.shape == (3331, 143, len(COVARIATES))
    store = retail_panel(frame, "store")
    assert store.series_count == 45 and store.names[-1] == "store 45" and np.isfinite(store.values).all()
    chain = retail_panel(frame, "chain")
    assert chain.values.shape == (1, 143) and (chain.dates[0], chain.dates[-1]) == ("2010-02-05", "2012-10-26")
    assert int(chain.holiday.sum()) == 10


def test_chain_total_is_the_sum_of_weekly_sales_per_date(frame: pd.DataFrame,
                                                         raw: dict[str, list[dict[str, str]]]) -> None:
    totals: defaultdict[str, float] = defaultdict(float)
    for row in raw[SALES_FILE]:
        totals[_iso(row["Date"])] += float(row["Weekly_Sales"])
    chain = retail_panel(frame, "chain")
    np.testing.assert_allclose(chain.values[0], [totals[day] for day in chain.dates], rtol=1e-12)
    np.testing.assert_allclose(retail_panel(frame, "store").values.sum(axis=0), chain.values[0], rtol=1e-12)


def test_the_folder_form_gives_the_same_frame_as_the_zip(archive: Path, frame: pd.DataFrame, tmp_path: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path, members=list(FILE_NAMES))
    pd.testing.assert_frame_equal(read_retail(tmp_path), frame)


# --- the series EDA --------------------------------------------------------------------------------------------------


def _tiny_panel() -> SeriesPanel:
    """3 series of 2 store types over 12 weeks, a gap, a negative value, two holiday weeks, the store features."""
    rng = np.random.default_rng(0)
    values = rng.uniform(100, 1000, size=(3, 12))
    values[1, 4], values[2, 7] = np.nan, -20.0
    names = ("Temperature", "Fuel_Price", "CPI", "Unemployment", "Size")
    covariates = rng.uniform(1, 10, size=(3, 12, len(names))).astype(np.float32)
    covariates[1] = covariates[0]  # series 0 and 1 are two departments of one store
    holiday = np.zeros(12, dtype=bool)
    holiday[[2, 9]] = True
    dates = tuple(str(day) for day in np.arange("2010-02-05", "2010-04-30", 7, dtype="datetime64[D]"))
    return SeriesPanel(names=("s1 d1", "s1 d2", "s2 d1"), dates=dates, values=values, covariates=covariates,
                       covariate_names=names, holiday=holiday, target="Weekly_Sales", unit="sales",
                       static={"store": (1, 1, 2), "type": ("A", "A", "B"), "size": (10, 10, 5)})


def _assert_pngs(out_dir: Path, figures: list[tuple[str, str]]) -> None:
    assert sorted(path.name for path in out_dir.iterdir()) == sorted(name for name, _ in figures)
    assert all((out_dir / name).read_bytes().startswith(PNG_MAGIC) and caption for name, caption in figures)


def test_plot_series_eda_draws_every_figure_for_a_store_panel(tmp_path: Path,
                                                              pixel_count: Callable[..., int]) -> None:
    figures = plot_series_eda(_tiny_panel(), tmp_path)
    captions = dict(figures)
    assert list(captions) == ["series_features.png", "series_distribution.png", "series_by_type.png",
                              "series_holiday.png", "series_unemployment.png", "series_total.png"]
    _assert_pngs(tmp_path, figures)
    assert "mean over the 2 stores" in captions["series_features.png"]
    assert "35 observed weeks" in captions["series_distribution.png"]
    assert "1 of them negative (2.86%)" in captions["series_distribution.png"]
    assert "A 2, B 1" in captions["series_by_type.png"] and "r = " in captions["series_unemployment.png"]
    assert pixel_count(tmp_path / "series_total.png", HOLIDAY_COLOR) > 50


def test_plot_series_eda_on_one_series_with_calendar_covariates_only(tmp_path: Path) -> None:
    values = np.sin(np.arange(20.0))[None, :] + 2
    holiday = np.zeros(20, dtype=bool)
    holiday[5] = True
    dates = tuple(str(day) for day in np.arange("2011-01-07", "2011-05-27", 7, dtype="datetime64[D]"))
    panel = SeriesPanel(names=("demo",), dates=dates, values=values,
                        covariates=np.arange(20, dtype=np.float32).reshape(1, 20, 1) % 52,
                        covariate_names=("week_of_year",), holiday=holiday)
    figures = plot_series_eda(panel, tmp_path)
    assert [name for name, _ in figures] == ["series_distribution.png", "series_holiday.png", "series_total.png"]
    _assert_pngs(tmp_path, figures)


def test_plot_series_eda_on_the_chain_panel(tmp_path: Path, write_retail: Callable[..., Path]) -> None:
    chain = retail_panel(read_retail(write_retail()), "chain")
    figures = plot_series_eda(chain, tmp_path / "eda")
    assert "series_by_type.png" not in dict(figures) and "series 'chain'" in dict(figures)["series_features.png"]
    _assert_pngs(tmp_path / "eda", figures)


def test_plot_series_eda_without_any_value_draws_nothing(tmp_path: Path) -> None:
    panel = SeriesPanel(names=("empty",), dates=("2010-02-05", "2010-02-12"), values=np.full((1, 2), np.nan),
                        covariates=np.zeros((1, 2, 0), dtype=np.float32), covariate_names=(),
                        holiday=np.array([True, False]))
    assert plot_series_eda(panel, tmp_path / "eda") == []
