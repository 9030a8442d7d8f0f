"""Forecasting windows cut from a hand-made panel: shapes, periods without leaks, training-only scalers, features (the
lag, the covariates, the calendar), too-short series, holiday weights and one-line option errors; then the default
split of the shared retail archive."""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from trainlab.config import DataConfig
from trainlab.data import DataBundle, build_dataset
from trainlab.data.options import parse_source_options
from trainlab.data.series.panel import SeriesPanel
from trainlab.data.series.split import TENSORS, WindowSplit
from trainlab.data.series.windows import SeriesOptions, window_bundle
from trainlab.errors import TrainlabError

STEPS = 160
VAL_WEEKS = TEST_WEEKS = 20
VAL_START = STEPS - TEST_WEEKS - VAL_WEEKS  # 120: weeks 0..119 train, 120..139 val, 140..159 test
TEST_START = STEPS - TEST_WEEKS  # 140
WINDOW = 6
LAG = 52
GAP = range(80, 86)  # training weeks without a row in series "gappy"
NAMES = ("flat", "gappy", "big", "short")
SHORT_FROM = 116  # "short" has rows from week 116: 4 training weeks, fewer than window + horizon
COVARIATES = ("temperature", "price")
HOLIDAYS = np.arange(STEPS) % 13 == 5
FEATURES = ("value", "present", "lag_52", "temperature", "price", "week_sin", "week_cos", "holiday")
FUTURE = ("week_sin", "week_cos", "holiday", "lag_52")
DATES = tuple((dt.date(2010, 1, 8) + dt.timedelta(weeks=week)).isoformat() for week in range(STEPS))


def make_panel(values: np.ndarray | None = None, covariates: np.ndarray | None = None) -> SeriesPanel:
    """4 series × 160 weeks: a yearly sine (period 52) plus noise at three levels, a gap in "gappy", a short one."""
    rng = np.random.default_rng(7)
    season = np.sin(2 * np.pi * np.arange(STEPS) / 52)
    if values is None:
        values = np.stack([100 + 10 * season, 50 + 20 * season, 1000 + 300 * season, 20 + 5 * season])
        values = values + rng.normal(0.0, 1.0, values.shape)
        values[1, GAP] = np.nan
        values[3, :SHORT_FROM] = np.nan
    if covariates is None:
        covariates = np.stack([60 + 20 * season[None, :].repeat(4, 0) + rng.normal(0, 2, (4, STEPS)),
                               3 + rng.normal(0, 0.2, (4, STEPS))], axis=2).astype(np.float32)
    return SeriesPanel(names=NAMES, dates=DATES, values=values, covariates=covariates, covariate_names=COVARIATES,
                       holiday=HOLIDAYS.copy(), target="sales", unit="sales", rows=int(np.isfinite(values).sum()))


def options(**changes: object) -> SeriesOptions:
    return SeriesOptions(**{"window": WINDOW, "horizon": 1, "val_weeks": VAL_WEEKS, "test_weeks": TEST_WEEKS,
                            **changes})


def bundle_of(panel: SeriesPanel | None = None, **changes: object) -> DataBundle:
    return window_bundle(panel if panel is not None else make_panel(), options(**changes), "hand")


def splits(bundle: DataBundle) -> dict[str, WindowSplit]:
    result = {"train": bundle.train, "val": bundle.val, "test": bundle.test}
    assert all(isinstance(split, WindowSplit) for split in result.values())
    return result  # type: ignore[return-value]


def target_steps(split: WindowSplit) -> np.ndarray:
    return split.origin.numpy()[:, None] + np.arange(1, split.horizon + 1)


def input_steps(split: WindowSplit, window: int = WINDOW) -> np.ndarray:
    return split.origin.numpy()[:, None] + np.arange(1 - window, 1)


def date_span(dates: tuple[str, ...], steps: np.ndarray) -> tuple[str, str]:
    """The first and last of the ISO dates at ``steps``."""
    chosen = np.unique(np.asarray(dates)[steps])
    return str(chosen[0]), str(chosen[-1])


def scaled_values(panel: SeriesPanel, end: int = VAL_START) -> np.ndarray:
    """[S, T] the values scaled with each series' training-week mean and std, a week without a row read as 0."""
    loc, scale = np.nanmean(panel.values[:, :end], axis=1), np.nanstd(panel.values[:, :end], axis=1)
    return (np.nan_to_num(panel.values) - loc[:, None]) / scale[:, None]


# --- shapes and counts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("horizon", [1, 4])
def test_window_shapes_and_counts(horizon: int) -> None:
    bundle = bundle_of(horizon=horizon)
    assert bundle.input_spec.features == FEATURES and bundle.input_spec.future == FUTURE
    assert (bundle.input_spec.window, bundle.input_spec.horizon) == (WINDOW, horizon)
    # per full series: train origins 57 .. 119-horizon, val 119 .. 139-horizon, test 139 .. 159-horizon;
    # "gappy" loses the training windows whose every target falls in its 6-week gap; "short" has none.
    full = {"train": VAL_START - (WINDOW - 1 + LAG), "val": VAL_WEEKS + 1 - horizon, "test": TEST_WEEKS + 1 - horizon}
    expected = {"train": 3 * (full["train"] - horizon) - (len(GAP) - horizon + 1), "val": 3 * full["val"],
                "test": 3 * full["test"]}
    for name, split in splits(bundle).items():
        n = expected[name]
        assert len(split) == n, name
        assert tuple(split.x.shape) == (n, WINDOW, len(FEATURES)) and split.x.dtype == torch.float32
        assert tuple(split.future.shape) == (n, horizon, len(FUTURE))
        for tensor in (split.y, split.mask, split.weight):
            assert tuple(tensor.shape) == (n, horizon)
        assert tuple(split.loc.shape) == tuple(split.scale.shape) == (n,)
        assert len(split.ids) == n and split.ids[0] == f"{NAMES[int(split.series[0])]} @ " \
            f"{DATES[int(split.origin[0]) + 1]}"
        assert sorted(set(split.series.tolist())) == [0, 1, 2]
    assert bundle.profile["windows"] == expected


def test_mask_marks_target_weeks_with_a_row_and_y_is_zero_elsewhere() -> None:
    panel = make_panel()
    train = splits(bundle_of(panel, horizon=4))["train"]
    steps = target_steps(train)
    present = np.isfinite(panel.values[train.series.numpy()[:, None], steps])
    assert np.array_equal(train.mask.numpy(), present)
    assert (~present).sum() > 0 and present.any(axis=1).all()  # partial windows kept, empty ones dropped
    assert (train.y.numpy()[~present] == 0).all()
    expected = scaled_values(panel)[train.series.numpy()[:, None], steps]
    np.testing.assert_allclose(train.y.numpy()[present], expected[present], rtol=1e-5, atol=1e-5)


# --- periods: no leak -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("horizon", [1, 4])
def test_training_windows_see_training_weeks_only_and_periods_are_ordered(horizon: int) -> None:
    bundle = bundle_of(horizon=horizon)
    assert bundle.profile["split_dates"] == {"train": [DATES[0], DATES[VAL_START - 1]],
                                             "val": [DATES[VAL_START], DATES[TEST_START - 1]],
                                             "test": [DATES[TEST_START], DATES[-1]]}
    val_start, test_start = bundle.profile["split_dates"]["val"][0], bundle.profile["split_dates"]["test"][0]
    parts = splits(bundle)
    train = parts["train"]
    # every input step, every target step, and every week a lag feature reads, is before the validation start
    assert date_span(DATES, input_steps(train))[1] < val_start
    assert date_span(DATES, target_steps(train))[1] < val_start
    assert (input_steps(train) - LAG >= 0).all()  # the lag of the oldest input week exists
    first = {name: date_span(DATES, target_steps(split))[0] for name, split in parts.items()}
    last = {name: date_span(DATES, target_steps(split))[1] for name, split in parts.items()}
    assert last["train"] < first["val"] and last["val"] < first["test"]
    assert first["val"] == val_start and first["test"] == test_start and last["test"] == DATES[-1]
    assert last["train"] == DATES[VAL_START - 1] and last["val"] == DATES[TEST_START - 1]


@pytest.mark.parametrize("horizon", [1, 4])
def test_every_window_has_all_its_targets_in_one_period(horizon: int) -> None:
    period = np.searchsorted([VAL_START, TEST_START], np.arange(STEPS), side="right")  # 0 train, 1 val, 2 test
    for index, split in enumerate(splits(bundle_of(horizon=horizon)).values()):
        assert (period[target_steps(split)] == index).all()


# --- scalers ----------------------------------------------------------------------------------------------------------


def test_series_scaler_is_the_mean_and_std_of_the_training_weeks() -> None:
    panel = make_panel()
    for split in splits(bundle_of(panel)).values():
        for s in (0, 1, 2):
            rows = split.series == s
            train_weeks = panel.values[s, :VAL_START]
            assert split.loc[rows].unique().tolist() == pytest.approx([np.nanmean(train_weeks)], rel=1e-6)
            assert split.scale[rows].unique().tolist() == pytest.approx([np.nanstd(train_weeks)], rel=1e-6)
            # not the statistics of the whole series
            assert split.loc[rows][0].item() != pytest.approx(np.nanmean(panel.values[s]), rel=1e-4)


def test_global_scaler_is_one_mean_and_std_over_every_training_week() -> None:
    panel = make_panel()
    train = splits(bundle_of(panel, scaler="global"))["train"]
    weeks = panel.values[:, :VAL_START]
    assert train.loc.unique().tolist() == pytest.approx([np.nanmean(weeks)], rel=1e-6)
    assert train.scale.unique().tolist() == pytest.approx([np.nanstd(weeks)], rel=1e-6)
    assert bundle_of(panel, scaler="global").target.scaler == "global"


@pytest.mark.parametrize("scaler", ["series", "global"])
@pytest.mark.parametrize(("week", "unchanged"), [(150, ("train", "val")), (125, ("train",))])
def test_a_later_week_leaves_earlier_windows_and_the_scalers_bit_for_bit_unchanged(
        scaler: str, week: int, unchanged: tuple[str, ...]) -> None:
    """Perturb a test (or validation) week's value, drop another row there and shift a covariate: the windows of the
    earlier periods, and every loc and scale, are the same bits; the windows holding that week do change."""
    panel = make_panel()
    values, covariates = panel.values.copy(), panel.covariates.copy()
    values[0, week] += 1e4
    values[2, week + 1] = np.nan
    covariates[:, week, 0] += 100.0
    before = splits(window_bundle(panel, options(horizon=4, scaler=scaler), "hand"))
    after = splits(window_bundle(make_panel(values, covariates), options(horizon=4, scaler=scaler), "hand"))
    for name in unchanged:
        for key in (*TENSORS, "series", "origin"):
            assert torch.equal(getattr(before[name], key), getattr(after[name], key)), f"{name}.{key}"
    for name in ("train", "val", "test"):
        assert torch.equal(before[name].loc, after[name].loc) and torch.equal(before[name].scale, after[name].scale)
    changed = "val" if "val" not in unchanged else "test"
    assert not torch.equal(before[changed].y, after[changed].y)  # the perturbation is seen where it belongs
    assert not torch.equal(before[changed].x, after[changed].x) or not torch.equal(before[changed].future,
                                                                                    after[changed].future)


def test_covariates_are_standardized_with_training_week_statistics() -> None:
    panel = make_panel()
    bundle = bundle_of(panel, covariates=["price"])
    assert bundle.input_spec.features == ("value", "present", "lag_52", "price", "week_sin", "week_cos", "holiday")
    train = splits(bundle)["train"]
    price = panel.covariates[:, :, 1].astype(np.float64)
    expected = (price - price[:, :VAL_START].mean()) / price[:, :VAL_START].std()
    np.testing.assert_allclose(train.x[:, :, 3].numpy(), expected[train.series.numpy()[:, None], input_steps(train)],
                               rtol=1e-5, atol=1e-5)


# --- features ---------------------------------------------------------------------------------------------------------


def test_value_present_and_lag_features_read_the_scaled_series() -> None:
    panel = make_panel()
    scaled = scaled_values(panel)
    for split in splits(bundle_of(panel, horizon=4)).values():
        rows, steps = split.series.numpy()[:, None], input_steps(split)
        x = split.x.numpy()
        np.testing.assert_allclose(x[..., 0], scaled[rows, steps], rtol=1e-5, atol=1e-5)
        assert np.array_equal(x[..., 1], np.isfinite(panel.values[rows, steps]).astype(np.float32))
        # the lag feature is the value 52 weeks before, in units once the scaling is undone (a week without a row: 0)
        lag_units = x[..., 2] * split.scale.numpy()[:, None] + split.loc.numpy()[:, None]
        np.testing.assert_allclose(lag_units, np.nan_to_num(panel.values[rows, steps - LAG]), rtol=1e-5, atol=1e-3)
        future_lag = split.future[..., 3].numpy()
        np.testing.assert_allclose(future_lag, scaled[rows, target_steps(split) - LAG], rtol=1e-5, atol=1e-5)


def test_the_lag_of_a_gap_week_reads_zero_in_units() -> None:
    panel = make_panel()
    test = splits(bundle_of(panel))["test"]
    gappy = test.series == 1
    steps = input_steps(test)[gappy.numpy()]
    in_gap = np.isin(steps - LAG, GAP)
    assert in_gap.sum() > 0  # the test inputs of weeks 132..137 lag into the gap
    lag = test.x[gappy][..., 2].numpy()[in_gap]
    loc, scale = test.loc[gappy][0].item(), test.scale[gappy][0].item()
    assert lag == pytest.approx(np.full(in_gap.sum(), -loc / scale), rel=1e-5)


def test_calendar_and_holiday_features() -> None:
    panel = make_panel()
    train = splits(bundle_of(panel, horizon=4))["train"]
    first = train.origin[0].item() + 1
    yday = dt.date.fromisoformat(DATES[first]).timetuple().tm_yday
    assert train.future[0, 0, 0].item() == pytest.approx(np.sin(2 * np.pi * yday / 365.25), abs=1e-6)
    assert train.future[0, 0, 1].item() == pytest.approx(np.cos(2 * np.pi * yday / 365.25), abs=1e-6)
    assert np.array_equal(train.future[..., 2].numpy(), HOLIDAYS[target_steps(train)].astype(np.float32))
    assert np.array_equal(train.x[..., 7].numpy(), HOLIDAYS[input_steps(train)].astype(np.float32))
    plain = bundle_of(panel, calendar=False)
    assert plain.input_spec.features == ("value", "present", "lag_52", "temperature", "price")
    assert plain.input_spec.future == ("lag_52",)


def test_data_without_holidays_has_no_holiday_column_or_weight() -> None:
    panel = make_panel()
    quiet = dataclasses.replace(panel, holiday=np.zeros_like(panel.holiday))
    bundle = bundle_of(quiet)
    assert bundle.input_spec.features == ("value", "present", "lag_52", "temperature", "price", "week_sin", "week_cos")
    assert bundle.input_spec.future == ("week_sin", "week_cos", "lag_52")
    assert "holiday_weight" not in bundle.profile and "holiday_weight" in bundle_of(panel).profile
    assert all(float(split.weight.max()) == 1.0 for split in splits(bundle).values())


def test_past_lags_off_keeps_the_lag_of_the_predicted_weeks_only() -> None:
    bundle = bundle_of(horizon=4, past_lags=False)
    assert "lag_52" not in bundle.input_spec.features and bundle.input_spec.future[-1] == "lag_52"
    train = splits(bundle)["train"]
    # Without the lags of the input weeks the first origin is set by the predicted weeks' lag (52 weeks back).
    assert int(train.origin.min()) == 51
    assert int(splits(bundle_of(horizon=4))["train"].origin.min()) == WINDOW - 1 + 52


# --- series, weights, options -----------------------------------------------------------------------------------------


def test_too_short_series_are_counted_listed_and_left_out() -> None:
    bundle = bundle_of(horizon=4)
    profile = bundle.profile
    assert profile["too_short"] == ["short"] and profile["too_short_count"] == 1
    assert profile["series"] == 4 and profile["series_used"] == 3
    assert all(3 not in split.series.tolist() for split in splits(bundle).values())
    # with a 3-week window, 4 training weeks are enough for horizon 1
    assert bundle_of(window=3).profile["too_short_count"] == 0


def test_max_series_keeps_the_largest_by_training_total() -> None:
    bundle = bundle_of(max_series=2)
    assert bundle.profile["series_used"] == 2
    assert sorted(set(bundle.train.series.tolist())) == [0, 2]  # "big" (~1000) and "flat" (~100) beat "gappy" (~50)


def test_holiday_weight_applies_to_holiday_target_weeks() -> None:
    bundle = bundle_of(horizon=4, holiday_weight=3.0)
    assert bundle.profile["holiday_weight"] == 3.0
    for split in splits(bundle).values():
        holiday = HOLIDAYS[target_steps(split)]
        assert holiday.any() and (~holiday).any()
        assert np.array_equal(split.weight.numpy(), np.where(holiday, 3.0, 1.0).astype(np.float32))


def test_test_start_picks_the_first_week_on_or_after_it() -> None:
    bundle = bundle_of(test_start=DATES[130])
    assert bundle.profile["split_dates"]["test"] == [DATES[130], DATES[-1]]
    assert bundle.profile["split_dates"]["val"] == [DATES[110], DATES[129]]
    between = (dt.date.fromisoformat(DATES[130]) + dt.timedelta(days=1)).isoformat()
    assert bundle_of(test_start=between).profile["split_dates"]["test"][0] == DATES[131]


def test_test_start_after_the_data_is_one_error_naming_test_start() -> None:
    with pytest.raises(TrainlabError, match=r"^data\.options\.test_start='2030-01-04' is after the last week of the "
                                            rf"data \({DATES[-1]}\)$"):
        bundle_of(test_start="2030-01-04")


def test_too_few_weeks_is_one_error_naming_the_options() -> None:
    with pytest.raises(TrainlabError, match=r"160 weeks .* are too few for val_weeks=100.*lower data\.options"):
        bundle_of(val_weeks=100)


def test_lags_shorter_than_the_horizon_are_one_error_naming_lags() -> None:
    with pytest.raises(TrainlabError, match=r"^invalid data\.options.*lags: a lag of 2 weeks is not known 4 weeks "
                                            r"ahead; every lag must be at least the horizon \(4\)"):
        parse_source_options(SeriesOptions, {"horizon": 4, "lags": [52, 2]})


def test_lags_error_comes_from_the_co2_source_before_any_data(tmp_path: Path) -> None:
    with pytest.raises(TrainlabError, match=r"lags: a lag of 1 weeks is not known 8 weeks ahead"):
        build_dataset(DataConfig(source="co2", options={"horizon": 8, "lags": [1]}), tmp_path)


def test_unknown_covariate_is_one_error_naming_the_option() -> None:
    with pytest.raises(TrainlabError, match=r"^data\.options\.covariates: 'humidity' is not a covariate of this data; "
                                            r"known: temperature, price$"):
        bundle_of(covariates=["price", "humidity"])


def test_a_series_without_training_rows_is_too_short() -> None:
    values = make_panel().values.copy()
    values[3, :VAL_START] = np.nan
    bundle = bundle_of(make_panel(values))
    assert bundle.profile["too_short"] == ["short"] and bundle.profile["series_used"] == 3


def test_a_series_without_training_rows_builds_without_warnings() -> None:
    values = make_panel().values.copy()
    values[3, :VAL_START] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        bundle_of(make_panel(values))


# --- the shared retail archive ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def retail(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> DataBundle:
    path = shared_data / "walmart_retail" / "archive.zip"
    if not path.is_file():
        pytest.fail(f"{path} is missing from the shared data")
    return build_dataset(DataConfig(source="retail", path=path), tmp_path_factory.mktemp("retail"))


def test_retail_default_split(retail: DataBundle) -> None:
    dates = retail.profile["split_dates"]
    assert dates["test"] == ["2012-04-13", "2012-10-26"]  # the last 29 weeks of the sales file
    assert dates["val"] == ["2011-11-25", "2012-04-06"]  # the 20 weeks before
    assert dates["train"][0] == "2010-02-05" and dates["train"][1] < dates["val"][0]
    panel_dates = retail.panel.dates
    parts = splits(retail)
    first = {name: date_span(panel_dates, target_steps(split))[0] for name, split in parts.items()}
    last = {name: date_span(panel_dates, target_steps(split))[1] for name, split in parts.items()}
    assert (first["test"], last["test"]) == ("2012-04-13", "2012-10-26")
    assert last["train"] < first["val"] == "2011-11-25" and last["val"] < first["test"]
    assert date_span(panel_dates, input_steps(parts["train"], retail.input_spec.window))[1] < dates["val"][0]
    assert retail.profile["too_short_count"] + retail.profile["series_used"] == retail.profile["series"]
