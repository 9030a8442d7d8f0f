"""The ``trainlab style`` command, added to a Typer app by :func:`register`.

Without ``--content``/``--style`` it runs the embedded demo (:mod:`trainlab.style.demo`). Every setting is checked and
every input file looked at before the feature net is read, and the output folder is made only when a result is there
to write, so a mistake leaves no empty folder behind. torch and matplotlib are imported inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trainlab.console import echo, user_errors
from trainlab.errors import TrainlabError

if TYPE_CHECKING:
    from trainlab.style.features import FeatureNet
    from trainlab.style.optimize import HistoryRow, StyleResult
    from trainlab.style.output import StyleOutputs
    from trainlab.style.settings import StyleSettings

DEFAULT_OUT = Path("runs/style")
OPTIMIZER_NAMES = {"lbfgs": "L-BFGS", "adam": "Adam"}
PROGRESS_LINES = 10
# Gatys et al.'s content layer and the style weight of the PyTorch tutorial's normalized Gram matrices, for an ImageNet
# VGG (--weights). The packaged net is a narrow VGG-13 trained on three classes of 64x64 images: its conv4_2 barely
# constrains the picture (the cat is lost at any style weight), so its defaults read content at conv2_2, and its
# smaller activations take a style weight of 1e4 (1e5 and more paint bricks over the whole cat). Chosen by eye on
# chelsea + brick and tubingen + starry night at 256 px among conv2_2 / conv3_2 / conv4_2 and 1e3 ... 1e6.
PAPER_DEFAULTS: dict[str, Any] = {"style_weight": 1e6, "content_layer": "conv4_2"}
PACKAGED_NET_DEFAULTS: dict[str, Any] = {"style_weight": 1e4, "content_layer": "conv2_2"}


def register(app: typer.Typer) -> None:
    """Add ``style`` to ``app``."""
    app.command("style")(style)


@user_errors
def style(
    content: Annotated[str | None, typer.Option(
        help="content image: a file, or skimage:NAME for a bundled picture (e.g. skimage:astronaut)")] = None,
    style_images: Annotated[list[str] | None, typer.Option(
        "--style", help="style image (a file or skimage:NAME); repeat it to blend several styles")] = None,
    weights: Annotated[str | None, typer.Option(
        help="the VGG feature net: a torchvision VGG state_dict file, a trainlab VGG run folder, or torchvision:vgg19 "
             "when cached (default: the packaged demo net)")] = None,
    demo: Annotated[str | None, typer.Option(
        help="without --content/--style: the demo pair to run, chelsea-brick (default), astronaut-grass, "
             "coffee-gravel, or all")] = None,
    size: Annotated[int, typer.Option(help="longest side of the result in pixels (the aspect ratio is kept)")] = 256,
    steps: Annotated[int, typer.Option(help="loss-and-gradient evaluations, each followed by one update")] = 300,
    optimizer: Annotated[str, typer.Option(help="lbfgs or adam")] = "lbfgs",
    lr: Annotated[float | None, typer.Option(help="learning rate (default: 1 for lbfgs, 0.02 for adam)")] = None,
    style_weight: Annotated[float | None, typer.Option(
        help="weight of the style loss (default: 1e4 with the packaged net, 1e6 with --weights)")] = None,
    content_weight: Annotated[float, typer.Option(help="weight of the content loss")] = 1.0,
    tv_weight: Annotated[float, typer.Option(help="weight of the total-variation (smoothness) loss")] = 1.0,
    style_layers: Annotated[str, typer.Option(
        help="style layers and their weights, NAME=WEIGHT,... (read after each conv's ReLU)")] = (
        "conv1_1=1,conv2_1=1,conv3_1=1,conv4_1=1,conv5_1=1"),
    content_layer: Annotated[str | None, typer.Option(
        help="content layer, a comma list for several (default: conv2_2 with the packaged net, conv4_2 with "
             "--weights)")] = None,
    init: Annotated[str, typer.Option(help="start from the content image or from noise: content or noise")] = (
        "content"),
    seed: Annotated[int, typer.Option(help="seed of the noise start (results are reproducible on the CPU)")] = 0,
    pool: Annotated[str, typer.Option(help="avg (2×2 average pools, as Gatys et al.) or max")] = "avg",
    device: Annotated[str, typer.Option(help="auto (the GPU when there is one), cpu or cuda")] = "auto",
    out: Annotated[Path, typer.Option(help="parent folder of the output folder <stamp>/")] = DEFAULT_OUT,
) -> None:
    """Neural style transfer (Gatys et al.): repaint one image in the style of another with a frozen VGG; writes
    result.png, panel.png, losses.csv/.png and report.html/.md into runs/style/<stamp>/."""
    from trainlab.io import check_writable_dir
    from trainlab.style.features import load_feature_net
    from trainlab.style.images import check_image_spec
    from trainlab.style.optimize import check_layers
    from trainlab.style.settings import StyleSettings, parse_layer_weights, parse_layers

    jobs = _jobs(content, style_images or [], demo)
    defaults = PACKAGED_NET_DEFAULTS if weights is None else PAPER_DEFAULTS
    style_weight = defaults["style_weight"] if style_weight is None else style_weight
    content_layer = defaults["content_layer"] if content_layer is None else content_layer
    common = {"weights": weights, "size": size, "steps": steps, "optimizer": optimizer, "lr": lr,
              "style_weight": style_weight, "content_weight": content_weight, "tv_weight": tv_weight,
              "style_layers": parse_layer_weights(style_layers), "content_layers": parse_layers(content_layer),
              "init": init, "seed": seed, "pool": pool, "device": device}
    runs = [(name, StyleSettings(content=first, style=tuple(rest), **common)) for name, first, rest in jobs]
    for _, settings in runs:
        for role, spec in (("content", settings.content), *(("style", s) for s in settings.style)):
            check_image_spec(spec, role)
    check_writable_dir(out, "--out")
    net = load_feature_net(weights, pool)
    for _, settings in runs:
        check_layers(net, settings)
    folder: Path | None = None
    for name, settings in runs:
        result = _run_one(settings, net)
        folder = folder or _new_folder(out)
        _summary(result, _write(result, folder / name if len(runs) > 1 else folder))


def _jobs(content: str | None, styles: list[str], demo: str | None) -> list[tuple[str, str, list[str]]]:
    """(name, content spec, style specs) of each run: the user's images, or the demo pairs."""
    from trainlab.style.demo import demo_pairs

    if content is None and not styles:
        return [(name, first, [second]) for name, first, second in demo_pairs(demo)]
    if demo is not None:
        raise TrainlabError("--demo runs the bundled pairs; leave it out when you pass --content and --style")
    if content is None or not styles:
        missing = "--style" if content is not None else "--content"
        raise TrainlabError(f"{missing} is missing: pass both --content and --style (files, or skimage:NAME), or "
                            "neither for the demo")
    return [("", content, styles)]


def _run_one(settings: StyleSettings, net: FeatureNet) -> StyleResult:
    from trainlab.style.images import image_label
    from trainlab.style.optimize import resolve_device, stylize

    styles = " + ".join(image_label(spec) for spec in settings.style)
    echo(f"style transfer: {image_label(settings.content)} (content) + {styles} (style), {settings.steps} "
         f"{OPTIMIZER_NAMES[settings.optimizer]} steps at {settings.size} px on {resolve_device(settings.device)}")
    every = max(1, settings.steps // PROGRESS_LINES)

    def progress(row: HistoryRow) -> None:
        if row.step % every == 0 or row.step == settings.steps:
            echo(f"  step {row.step:>{len(str(settings.steps))}}/{settings.steps}  total {row.total:.4g}  "
                 f"(content {row.content:.3g}, style {row.style:.3g}, tv {row.tv:.3g})  {row.seconds:.1f} s")

    return stylize(settings, net=net, progress=progress)


def _new_folder(parent: Path) -> Path:
    from trainlab.style.output import new_output_dir

    return new_output_dir(parent)


def _write(result: StyleResult, folder: Path) -> StyleOutputs:
    from trainlab.style.output import write_outputs

    folder.mkdir(parents=True, exist_ok=True)
    return write_outputs(result, folder)


def _summary(result: StyleResult, outputs: StyleOutputs) -> None:
    from trainlab.report.formats import fmt_duration

    first, last = result.history[0], result.history[-1]
    echo(f"feature net: {result.net_description}, from {result.net_source}")
    echo(f"total loss {first.total:.4g} → {last.total:.4g} in {fmt_duration(result.seconds)} "
         f"(style {first.style:.3g} → {last.style:.3g}, content {first.content:.3g} → {last.content:.3g})")
    echo(f"result: {outputs.result}")
    echo(f"report: {outputs.report_html} (also report.md, panel.png, losses.csv, losses.png, settings.json)")
