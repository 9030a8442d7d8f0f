"""``trainlab bench``: one image model trained three ways in one process, to show what each way of writing a loop costs.

* ``course``: the loop of the course notebooks (fp32, a DataLoader over a CPU TensorDataset, per-batch ``.to(device)``);
* ``plain``: the loop a careful PyTorch user writes (data on the device, bf16 autocast and channels-last on CUDA);
* ``trainer``: trainlab's own Lightning trainer (:func:`trainlab.train.fit.fit_variant`) on the same recipe and data.

The ways and their measurement live in :mod:`trainlab.bench.ways`; the setup, the rounds and the result in
:mod:`trainlab.bench.run`; the command in :mod:`trainlab.bench.cli`. Speed is measured, never asserted in a test.

Nothing is imported here: ``trainlab.cli`` imports :mod:`trainlab.bench.cli` for every command, and torch and Lightning
load only when ``trainlab bench`` runs.
"""
