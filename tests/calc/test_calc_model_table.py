"""A recipe's layer table: formulas asserted against the built module, totals equal to the model's count."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from trainlab.calc import model_table as table_module
from trainlab.calc.model_table import LayerMismatchError, check_model, format_shape, model_table
from trainlab.errors import TrainlabError


@pytest.mark.parametrize(
    ("recipe", "total", "first_output", "last_output"),
    [
        ("vgg13-ablation", 34_591_299, (64, 64, 64), (3,)),
        ("resnet18-ablation", 11_178_051, (64, 32, 32), (3,)),
        ("vgg13-gray32", 38_677_859, (64, 32, 32), (3,)),
    ],
)
def test_recipe_totals(recipe: str, total: int, first_output: tuple, last_output: tuple) -> None:
    rows, counted = model_table(recipe)
    assert counted == total == sum(row.params for row in {row.name: row for row in rows}.values())
    assert rows[0].kind == "Conv2d" and rows[0].output_shape == first_output
    assert rows[-1].kind == "Linear" and rows[-1].output_shape == last_output


def test_resnet_lists_downsample_convs_in_forward_order() -> None:
    rows, _ = model_table("resnet18-ablation")
    names = [row.name for row in rows]
    assert "layer2.0.downsample.0" in names and "layer4.0.downsample.1" in names
    assert names.index("layer2.0.bn2") < names.index("layer2.0.downsample.0") < names.index("layer2.1.conv1")
    down = rows[names.index("layer2.0.downsample.0")]
    assert (format_shape(down.input_shape), format_shape(down.output_shape), down.params) == ("16×16×64", "8×8×128",
                                                                                              8_192)
    assert down.formula == "128·(1·1·64)"


def test_num_classes_default_and_override(tmp_path: Path) -> None:
    rows, _ = model_table("digits-demo")  # digits: 10 classes without loading the data
    assert rows[-1].output_shape == (10,)
    rows, total = model_table("vgg13-gray32", num_classes=5)
    assert rows[-1].output_shape == (5,) and total == 38_677_859 + 2 * 1001
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text("name: tiny\ndata: {source: image_folder, image_size: 32, channels: 1}\n"
                      "model: {name: vgg13, width: 0.125, options: {batch_norm: true, hidden: [16]}}\n")
    rows, total = model_table(recipe)
    assert total == sum(p.numel() for p in table_module.build_recipe_model(table_module.load_recipe(recipe), 3)
                        .parameters())
    with pytest.raises(TrainlabError, match="num_classes must be an integer >= 2, got 1"):
        model_table("vgg13-gray32", num_classes=1)
    with pytest.raises(TrainlabError, match="unknown recipe 'nope'"):
        model_table("nope")


def test_other_layer_kinds() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1, groups=1, bias=False), nn.BatchNorm2d(4), nn.GELU(),
                          nn.ConvTranspose2d(4, 2, 2, stride=2), nn.AvgPool2d(3, ceil_mode=True),
                          nn.MaxPool2d(2, padding=1, dilation=1), nn.AdaptiveAvgPool2d((1, None)), nn.Flatten(),
                          nn.Dropout(0.1), nn.Linear(6, 5))
    rows, total = check_model(model, (1, 3, 15, 13))
    assert total == sum(p.numel() for p in model.parameters())
    assert [row.kind for row in rows][:4] == ["Conv2d", "BatchNorm2d", "GELU", "ConvTranspose2d"]
    assert rows[3].formula == "4·(2·2·2) + 2"


def test_a_wrong_formula_is_caught_and_names_the_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    monkeypatch.setattr(table_module, "conv2d_params", lambda *args, **kwargs: 1)
    with pytest.raises(LayerMismatchError, match=r"layer 0 \(Conv2d\): the calculator gives 1 parameters, the module "
                                                 "has 112"):
        check_model(model, (1, 3, 8, 8))
    monkeypatch.undo()
    monkeypatch.setattr(table_module, "linear_params", lambda *args, **kwargs: 0)
    with pytest.raises(AssertionError, match=r"layer 3 \(Linear\)"):
        check_model(model, (1, 3, 8, 8))
    monkeypatch.undo()
    monkeypatch.setattr(table_module, "conv2d_output", lambda volume, *args, **kwargs: volume)
    with pytest.raises(LayerMismatchError, match="layer 0 \\(Conv2d\\): the calculator gives output 8×8×3, the module "
                                                 "gives 6×6×4"):
        check_model(model, (1, 3, 8, 8))


def test_parameters_outside_leaf_layers_and_unknown_layers() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(nn.init.ones_(nn.Parameter(nn.Linear(1, 1).weight.new_empty(1))))
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x) * self.scale

    with pytest.raises(LayerMismatchError, match="the layers add up to 6 parameters, the model has 7"):
        check_model(Scaled(), (1, 2))
    with pytest.raises(TrainlabError, match=r"layer 0 \(LSTM\): no calculator formula for a LSTM layer"):
        check_model(nn.Sequential(nn.LSTM(2, 2)), (1, 3, 2))
