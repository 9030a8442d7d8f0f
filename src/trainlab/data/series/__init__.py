"""Time series for forecasting: panels of weekly series (``panel``), the sources that read them (``sources``:
``retail``, ``co2``), and the windows cut from them, split by time (``windows``, ``split``)."""
