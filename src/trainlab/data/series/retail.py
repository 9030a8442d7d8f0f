"""The Walmart "Retail Data Analytics" files (Kaggle ``manjeetsingh/retaildataset``): one merged frame, then a panel.

``data.path`` is the Kaggle ``archive.zip`` or a folder holding its three CSVs (:data:`FILE_NAMES`). The files use
CRLF, the literal ``NA`` for missing values, dates ``dd/mm/yyyy`` and ``TRUE``/``FALSE`` holiday flags.
:func:`read_retail` checks and merges them (one row per sales row: 421,570 on the shared archive);
:func:`retail_panel` turns the frame into a :class:`SeriesPanel` at one of three :data:`LEVELS`.

Rows in error messages are numbered from 1 after the header (as pandas numbers them), like the text datasets do.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trainlab.data.series.panel import SeriesPanel
from trainlab.errors import TrainlabError

FEATURES_FILE, SALES_FILE, STORES_FILE = "Features data set.csv", "sales data-set.csv", "stores data-set.csv"
FILE_NAMES = (FEATURES_FILE, SALES_FILE, STORES_FILE)
DATE_FORMAT = "%d/%m/%Y"
MAX_ENTRY_BYTES = 512 * 2**20  # a zip entry declaring more than this is refused before it is inflated
MARKDOWNS = tuple(f"MarkDown{i}" for i in range(1, 6))
MISSING_FLAGS = tuple(f"{name}_missing" for name in MARKDOWNS)
STORE_TYPES = ("A", "B", "C")
TYPE_COLUMNS = tuple(f"Type_{name}" for name in STORE_TYPES)
FILLED = ("Temperature", "Fuel_Price", "CPI", "Unemployment")  # forward-filled per store, see fill_per_store
COVARIATES = ("Temperature", "Fuel_Price", *MARKDOWNS, *MISSING_FLAGS, "CPI", "Unemployment", "Size", *TYPE_COLUMNS)
FRAME_COLUMNS = ("Store", "Dept", "Date", "Weekly_Sales", "IsHoliday", "Type", *COVARIATES[-4:], *COVARIATES[:-4])
LEVELS = ("store_dept", "store", "chain")
NULLS = ("NA", "")
EXPECTED = {"int64": "a whole number", "float64": "a number", "bool": "TRUE or FALSE", "str": "a value",
            "date": "a date dd/mm/yyyy"}
SCHEMAS: dict[str, dict[str, str]] = {
    SALES_FILE: {"Store": "int64", "Dept": "int64", "Date": "date", "Weekly_Sales": "float64", "IsHoliday": "bool"},
    FEATURES_FILE: {"Store": "int64", "Date": "date", "Temperature": "float64", "Fuel_Price": "float64",
                    **dict.fromkeys(MARKDOWNS, "float64"), "CPI": "float64", "Unemployment": "float64",
                    "IsHoliday": "bool"},
    STORES_FILE: {"Store": "int64", "Type": "str", "Size": "int64"},
}
MAY_BE_MISSING = frozenset((*MARKDOWNS, *FILLED))


@dataclass(frozen=True)
class _Source:
    """Where the three CSVs are: a folder, or a zip archive (entries matched by base name, at any depth)."""

    path: Path
    entries: dict[str, zipfile.ZipInfo] | None = None

    def label(self, name: str) -> str:
        """How messages name one file: its path, or ``name in archive.zip``."""
        return f"{name} in {self.path}" if self.entries is not None else str(self.path / name)

    def read(self, name: str) -> bytes:
        if self.entries is None:
            try:
                return (self.path / name).read_bytes()
            except OSError as error:
                raise TrainlabError(f"cannot read {self.label(name)}: {error.strerror or error}") from None
        info = self.entries[name]
        if info.file_size > MAX_ENTRY_BYTES:
            raise TrainlabError(f"{self.label(name)} declares {info.file_size:,} bytes; expected at most "
                                f"{MAX_ENTRY_BYTES:,}")
        try:
            with zipfile.ZipFile(self.path) as archive:
                return archive.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
            raise TrainlabError(f"cannot read {self.label(name)}: {error}") from None


def _open_source(path: Path) -> _Source:
    """The folder or zip at ``path``, checked to hold all three files (so a wrong path fails before any parsing)."""
    path = Path(path)
    expected = ", ".join(repr(name) for name in FILE_NAMES)
    if path.is_dir():
        missing = [name for name in FILE_NAMES if not (path / name).is_file()]
        source = _Source(path)
    elif path.is_file():
        try:
            with zipfile.ZipFile(path) as archive:
                infos = sorted(archive.infolist(), key=lambda info: -info.filename.count("/"))
                entries = {Path(info.filename).name: info for info in infos if not info.is_dir()}  # shallowest
        except (zipfile.BadZipFile, OSError) as error:
            raise TrainlabError(f"{path} is not a readable zip archive ({error}); expected the Kaggle archive.zip "
                                f"or a folder holding {expected}") from None
        missing = [name for name in FILE_NAMES if name not in entries]
        source = _Source(path, entries)
    else:
        raise TrainlabError(f"{path} does not exist; expected the Kaggle archive.zip or a folder holding {expected}")
    if missing:
        raise TrainlabError(f"{path} lacks {', '.join(repr(name) for name in missing)}; expected the Kaggle "
                            f"archive.zip or a folder holding {expected}")
    return source


def _first_bad(text: pd.Series, kind: str, optional: bool) -> int | None:
    """Position of the first cell (read as text, nothing turned into NaN) that is not of ``kind``; None if none."""
    text = text.str.strip()
    missing = text.isin(NULLS)
    if kind == "int64":
        bad = ~text.str.fullmatch(r"[+-]?\d+")
    elif kind == "float64":
        bad = pd.to_numeric(text, errors="coerce").isna()
    elif kind == "bool":
        bad = ~text.str.upper().isin(["TRUE", "FALSE"])
    elif kind == "date":
        bad = pd.to_datetime(text, format=DATE_FORMAT, errors="coerce").isna()
    else:
        bad = missing
    bad = (bad & ~missing) | (missing & (not optional))
    hits = np.flatnonzero(bad.to_numpy(dtype=bool))
    return int(hits[0]) if hits.size else None


def _cell_error(label: str, column: str, kind: str, row: int, value: object) -> TrainlabError:
    shown = "an empty value (NA)" if pd.isna(value) or str(value).strip() in NULLS else repr(value)
    return TrainlabError(f"{label}: column {column!r}, row {row + 1}: {shown} is not {EXPECTED[kind]}")


def _diagnose(raw: bytes, label: str, schema: dict[str, str], error: Exception) -> TrainlabError:
    """Re-read the file as text to name the first cell pandas could not convert (its own message names neither)."""
    text = pd.read_csv(io.BytesIO(raw), usecols=list(schema), dtype=str, keep_default_na=False)
    for column, kind in schema.items():
        row = _first_bad(text[column], kind, column in MAY_BE_MISSING)
        if row is not None:
            return _cell_error(label, column, kind, row, text[column].iloc[row])
    return TrainlabError(f"{label} is not a readable CSV file: {str(error).splitlines()[0]}")


def _parse(raw: bytes, label: str, schema: dict[str, str]) -> pd.DataFrame:
    """The columns of ``schema`` at their dtypes (dates still text); a missing column or bad cell is named."""
    try:
        header = pd.read_csv(io.BytesIO(raw), nrows=0).columns
    except pd.errors.EmptyDataError:
        raise TrainlabError(f"{label} is empty; expected a header {', '.join(schema)}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise TrainlabError(f"{label} is not a readable CSV file: {str(error).splitlines()[0]}") from None
    missing = [column for column in schema if column not in header]
    if missing:
        raise TrainlabError(f"{label} lacks the column(s) {', '.join(map(repr, missing))}; expected "
                            f"{', '.join(schema)}")
    dtypes = {column: "str" if kind == "date" else kind for column, kind in schema.items()}
    try:
        return pd.read_csv(io.BytesIO(raw), usecols=list(schema), dtype=dtypes, na_values=list(NULLS),
                           keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as error:  # pandas' ParserError is a ValueError
        raise _diagnose(raw, label, schema, error) from None


def _read_table(source: _Source, name: str) -> pd.DataFrame:
    """One CSV as ``SCHEMAS[name]`` says, ``Date`` parsed strictly as dd/mm/yyyy; the first bad cell is named."""
    label, schema = source.label(name), SCHEMAS[name]
    frame = _parse(source.read(name), label, schema)
    for column, kind in schema.items():
        empty = frame[column].isna().to_numpy()
        if column not in MAY_BE_MISSING and empty.any():
            row = int(np.flatnonzero(empty)[0])
            raise _cell_error(label, column, kind, row, None)
    if "Date" in schema:
        dates = pd.to_datetime(frame["Date"], format=DATE_FORMAT, errors="coerce")
        bad = dates.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise _cell_error(label, "Date", "date", row, frame["Date"].iloc[row])
        frame["Date"] = dates
    return frame


def _day(date: pd.Timestamp) -> str:
    return date.strftime(DATE_FORMAT)


def _check_unique(frame: pd.DataFrame, keys: list[str], label: str) -> None:
    """One row per key: a repeated key would double sales in the merge or make the panel pick one row silently."""
    repeated = frame.duplicated(keys, keep=False).to_numpy()
    if not repeated.any():
        return
    first = int(np.flatnonzero(repeated)[0])
    key = frame.iloc[first]
    same = np.flatnonzero(repeated & (frame[keys] == key[keys]).all(axis=1).to_numpy())
    shown = ", ".join(f"{k} {_day(key[k]) if k == 'Date' else key[k]}" for k in keys)
    raise TrainlabError(f"{label}: {shown} appears more than once (rows {same[0] + 1} and {same[1] + 1}); expected "
                        f"one row per {', '.join(keys)}")


def _check_stores(stores: pd.DataFrame, label: str) -> None:
    known = stores["Type"].isin(STORE_TYPES).to_numpy()
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        raise TrainlabError(f"{label}: column 'Type', row {row + 1}: {stores['Type'].iloc[row]!r} is not a store "
                            f"type; expected one of {', '.join(STORE_TYPES)}")


def fill_per_store(features: pd.DataFrame, label: str) -> pd.DataFrame:
    """MarkDown ``NA`` → 0 with a 0/1 ``MarkDown{i}_missing`` flag: markdowns were recorded only from 2011-11-11
    and not for every store and week after that, so 0 is a stand-in and the flag tells a model the value is unknown
    (a few real values are 0 or negative). :data:`FILLED` columns are forward-filled per store in date order: the
    last published CPI or unemployment figure is what was known that week.

    A store's values before its first figure are then backward-filled: they would otherwise stay NaN and covariates
    must be complete. The shared archive needs no backward fill: its 585 missing CPI and Unemployment values all lie
    after the last sales week (May to July 2013).
    """
    features = features.sort_values(["Store", "Date"], kind="stable").reset_index(drop=True)
    for name, flag in zip(MARKDOWNS, MISSING_FLAGS, strict=True):
        features[flag] = features[name].isna().astype("int8")
        features[name] = features[name].fillna(0.0)
    by_store = features.groupby("Store")[list(FILLED)]
    features[list(FILLED)] = by_store.ffill().groupby(features["Store"]).bfill()
    for column in FILLED:
        empty = features[column].isna().to_numpy()
        if empty.any():
            store = features["Store"].iloc[int(np.flatnonzero(empty)[0])]
            raise TrainlabError(f"{label}: column {column!r} has no value for Store {store}; expected at least one "
                                f"number per store")
    return features


def _with_stores(sales: pd.DataFrame, stores: pd.DataFrame, labels: tuple[str, str]) -> pd.DataFrame:
    """``sales`` with Type, Size and the Type one-hot of its store; a store without a stores row is an error."""
    unknown = (~sales["Store"].isin(stores["Store"])).to_numpy()
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise TrainlabError(f"{labels[0]}: Store {sales['Store'].iloc[row]} (row {row + 1}) has no row in "
                            f"{labels[1]}; expected every store of the sales file there")
    for name, column in zip(STORE_TYPES, TYPE_COLUMNS, strict=True):
        stores[column] = (stores["Type"] == name).astype("int8")
    return sales.merge(stores, on="Store", how="left", sort=False)


def _with_features(sales: pd.DataFrame, features: pd.DataFrame, labels: tuple[str, str]) -> pd.DataFrame:
    """``sales`` with the features of its store and date; a (Store, Date) without a features row is an error."""
    merged = sales.merge(features.drop(columns="IsHoliday"), on=["Store", "Date"], how="left", sort=False,
                         indicator=True)
    unknown = (merged.pop("_merge") == "left_only").to_numpy()
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise TrainlabError(f"{labels[0]}: Store {merged['Store'].iloc[row]}, Date {_day(merged['Date'].iloc[row])} "
                            f"(row {row + 1}) has no row in {labels[1]}; expected features for every store and week")
    return merged


def read_retail(path: Path) -> pd.DataFrame:
    """The three files merged: one row per sales row, sales ← stores (Store) ← features (Store, Date).

    Columns: Store, Dept, Date (datetime), Weekly_Sales, IsHoliday (0/1, from the sales file), Type, Size,
    Type_A/B/C (0/1), Temperature, Fuel_Price, MarkDown1-5 (NA → 0), MarkDown1-5_missing (0/1), CPI, Unemployment
    (filled as :func:`fill_per_store` says). Every problem is a one-line :class:`TrainlabError` naming the file.
    """
    source = _open_source(path)
    sales, features, stores = (_read_table(source, name) for name in (SALES_FILE, FEATURES_FILE, STORES_FILE))
    _check_unique(sales, ["Store", "Dept", "Date"], source.label(SALES_FILE))
    _check_unique(features, ["Store", "Date"], source.label(FEATURES_FILE))
    _check_unique(stores, ["Store"], source.label(STORES_FILE))
    _check_stores(stores, source.label(STORES_FILE))
    features = fill_per_store(features, source.label(FEATURES_FILE))
    sales["IsHoliday"] = sales["IsHoliday"].astype("int8")
    merged = _with_stores(sales, stores, (source.label(SALES_FILE), source.label(STORES_FILE)))
    merged = _with_features(merged, features, (source.label(SALES_FILE), source.label(FEATURES_FILE)))
    return merged[list(FRAME_COLUMNS)].reset_index(drop=True)


def _calendar(dates: pd.Series) -> pd.DatetimeIndex:
    """Every week from the first to the last sales date; a date off that weekly grid is an error, not dropped."""
    first, last = dates.min(), dates.max()
    calendar = pd.date_range(first, last, freq="7D")
    off = ((dates - first) % pd.Timedelta(days=7) != pd.Timedelta(0)).to_numpy()
    if off.any():
        raise TrainlabError(f"sales Date {_day(dates.iloc[int(np.flatnonzero(off)[0])])} is not a whole number of "
                            f"weeks after the first sales date {_day(first)}; expected weekly dates")
    return calendar


def _steps(frame: pd.DataFrame, calendar: pd.DatetimeIndex) -> np.ndarray:
    return ((frame["Date"] - calendar[0]).dt.days // 7).to_numpy()


def _store_covariates(frame: pd.DataFrame, calendar: pd.DatetimeIndex) -> tuple[np.ndarray, pd.DataFrame]:
    """[stores, weeks, covariates] float32 and the stores (index Store: Type, Size), sorted by Store.

    A week in which a store has no sales row takes the nearest earlier week's covariates (the next week's before the
    store's first row), so covariates are complete for every series of the store.
    """
    rows = frame.drop_duplicates(["Store", "Date"]).set_index(["Store", "Date"])[list(COVARIATES)]
    stores = frame.drop_duplicates("Store").set_index("Store")[["Type", "Size"]].sort_index()
    full = pd.MultiIndex.from_product([stores.index, calendar], names=["Store", "Date"])
    grid = rows.reindex(full).groupby(level="Store").ffill().groupby(level="Store").bfill()
    shape = (len(stores), len(calendar), len(COVARIATES))
    return grid.to_numpy(dtype=np.float32).reshape(shape), stores


def _holiday(frame: pd.DataFrame, calendar: pd.DatetimeIndex) -> np.ndarray:
    """A week is a holiday week when any sales row of that date says so (all rows of a date agree in the files)."""
    holiday = np.zeros(len(calendar), dtype=bool)
    holiday[_steps(frame, calendar)[frame["IsHoliday"].to_numpy() == 1]] = True
    return holiday


def _grid(count: int, sums: pd.Series, steps: np.ndarray, codes: np.ndarray, weeks: int) -> np.ndarray:
    """[count, weeks] NaN except ``values[codes[i], steps[i]] = sums[i]``."""
    values = np.full((count, weeks), np.nan)
    values[codes, steps] = sums.to_numpy()
    return values


@dataclass(frozen=True)
class _Level:
    names: tuple[str, ...]
    values: np.ndarray
    covariates: np.ndarray
    static: dict[str, tuple[object, ...]]


def _store_dept_level(frame: pd.DataFrame, calendar: pd.DatetimeIndex, cov: np.ndarray,
                      stores: pd.DataFrame) -> _Level:
    groups = frame.groupby(["Store", "Dept"], sort=True)
    keys = groups.size().index.to_frame(index=False)
    values = _grid(len(keys), frame["Weekly_Sales"], _steps(frame, calendar), groups.ngroup().to_numpy(), len(calendar))
    store_ids = keys["Store"].to_numpy()
    position = stores.index.get_indexer(store_ids)
    return _Level(names=tuple(f"store {s} dept {d}" for s, d in zip(store_ids, keys["Dept"], strict=True)),
                  values=values, covariates=cov[position],
                  static={"store": tuple(int(s) for s in store_ids), "dept": tuple(int(d) for d in keys["Dept"]),
                          "type": tuple(str(t) for t in stores["Type"].to_numpy()[position]),
                          "size": tuple(int(n) for n in stores["Size"].to_numpy()[position])})


def _store_level(frame: pd.DataFrame, calendar: pd.DatetimeIndex, cov: np.ndarray, stores: pd.DataFrame) -> _Level:
    sums = frame.groupby(["Store", "Date"], sort=True)["Weekly_Sales"].sum().reset_index()
    codes = stores.index.get_indexer(sums["Store"])
    values = _grid(len(stores), sums["Weekly_Sales"], _steps(sums, calendar), codes, len(calendar))
    return _Level(names=tuple(f"store {s}" for s in stores.index), values=values, covariates=cov,
                  static={"store": tuple(int(s) for s in stores.index), "type": tuple(str(t) for t in stores["Type"]),
                          "size": tuple(int(n) for n in stores["Size"])})


def _chain_level(frame: pd.DataFrame, calendar: pd.DatetimeIndex, cov: np.ndarray, stores: pd.DataFrame) -> _Level:
    """One series: the total over every row; covariates the mean over stores, each store weighted equally (so Size
    is the mean store size and Type_A/B/C the shares of the store types)."""
    sums = frame.groupby("Date", sort=True)["Weekly_Sales"].sum().reset_index()
    values = _grid(1, sums["Weekly_Sales"], _steps(sums, calendar), np.zeros(len(sums), dtype=int), len(calendar))
    return _Level(names=("chain",), values=values, covariates=cov.mean(axis=0, keepdims=True),
                  static={"store": ("all",), "type": ("all",), "size": (float(stores["Size"].mean()),)})


BUILDERS = {"store_dept": _store_dept_level, "store": _store_level, "chain": _chain_level}


def retail_panel(frame: pd.DataFrame, level: str) -> SeriesPanel:
    """The frame of :func:`read_retail` as weekly series: one per (Store, Dept) (``store_dept``), per store
    (``store``: sales summed over departments) or one for the whole chain (``chain``).

    The calendar runs weekly from the first to the last sales date; a series without a row in a week is NaN there
    (a department that did not report, not a zero sale). Covariates are the store's (:data:`COVARIATES`, float32).
    ``static`` holds store, type and size per series (and dept at ``store_dept``); ``chain`` has store and type
    ``"all"`` and the mean size.
    """
    if level not in BUILDERS:
        raise TrainlabError(f"data.options.level: unknown level {level!r}; expected one of {', '.join(LEVELS)}")
    calendar = _calendar(frame["Date"])
    cov, stores = _store_covariates(frame, calendar)
    built = BUILDERS[level](frame, calendar, cov, stores)
    return SeriesPanel(names=built.names, dates=tuple(calendar.strftime("%Y-%m-%d")), values=built.values,
                       covariates=built.covariates, covariate_names=COVARIATES, holiday=_holiday(frame, calendar),
                       target="Weekly_Sales", unit="sales", static=built.static, rows=len(frame))
