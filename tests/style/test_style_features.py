"""The named VGG feature extractor: names, torchvision equivalence, architecture from the weights, and the errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision
from style_helpers import TINY, save_state, vgg_state
from torch import nn

from trainlab.errors import TrainlabError
from trainlab.models.weights import IMAGENET_MEAN, IMAGENET_STD
from trainlab.style import features as features_module
from trainlab.style.features import (
    FeatureNet,
    infer_architecture,
    layer_names,
    load_feature_net,
    loss_layer,
    read_style_weights,
)


def _torchvision_file(tmp_path: Path, batch_norm: bool) -> tuple[Path, nn.Sequential]:
    """torchvision's own VGG-11 features (random, BN running stats moved off 0/1) saved in torchvision's layout,
    with a stand-in classifier whose last layer has ImageNet's 1,000 classes."""
    torch.manual_seed(3)
    tv = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["A"], batch_norm=batch_norm)
    for module in tv.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
    state = {f"features.{key}": value for key, value in tv.state_dict().items()}
    state |= {"classifier.0.weight": torch.zeros(8, 8), "classifier.6.weight": torch.zeros(1000, 8),
              "classifier.6.bias": torch.zeros(1000)}
    return save_state(state, tmp_path / f"vgg11{'_bn' if batch_norm else ''}-tv.pth"), tv.eval()


@pytest.mark.parametrize("batch_norm", [False, True])
def test_outputs_equal_torchvision_features(tmp_path: Path, batch_norm: bool) -> None:
    path, tv = _torchvision_file(tmp_path, batch_norm)
    net = load_feature_net(str(path), pool="max")
    assert net.description == f"VGG-11 features (width 1{', BatchNorm' if batch_norm else ''})"
    assert net.mean.flatten().tolist() == pytest.approx(IMAGENET_MEAN)
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    names = [name for name in net.names if name.startswith(("conv", "pool"))]
    ours = net(image, names)
    normalized = (image - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        for name in names:
            theirs = tv[: net.index_of(name) + 1](normalized)
            assert (ours[name] - theirs).abs().max().item() < 1e-5, name


def test_layer_names_follow_the_blocks() -> None:
    names = layer_names(nn.Sequential(*torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])))
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert names.index("conv4_2") == 19 and names.index("conv4_3") == 21  # VGG-16's features.19 and .21
    assert names.index("conv5_1") == 24 and names[-1] == "pool5"
    bn = layer_names(torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["A"], batch_norm=True))
    assert bn[:5] == ["conv1_1", "bn1_1", "relu1_1", "pool1", "conv2_1"]
    assert bn.index("conv3_2") == 11


def test_conv_layers_are_read_after_their_relu() -> None:
    assert loss_layer("conv4_2") == "relu4_2"
    assert loss_layer("relu1_1") == "relu1_1" and loss_layer("pool3") == "pool3"


@pytest.mark.parametrize(("name", "convs"), [("vgg11", 8), ("vgg13", 10), ("vgg16", 13), ("vgg19", 16)])
def test_architecture_comes_from_the_state(name: str, convs: int) -> None:
    arch, features = infer_architecture(vgg_state(name, batch_norm=name == "vgg13"), "test")
    assert (arch.name, arch.width, arch.batch_norm) == (name, TINY, name == "vgg13")
    assert sum(isinstance(m, nn.Conv2d) for m in features) == convs


def test_a_width_that_64_does_not_divide_is_found(tmp_path: Path) -> None:
    """Width 0.1: 6 channels first (64 × 0.1 rounded), so first/64 is not the width; the last conv's 51/512 is."""
    arch, _ = infer_architecture(vgg_state("vgg11", width=0.1), "test")
    assert arch.name == "vgg11" and round(arch.width, 3) == 0.1


def test_the_extractor_is_frozen_uses_avg_pools_and_stops_early(tiny_weights: Path) -> None:
    net = load_feature_net(str(tiny_weights))
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert all(isinstance(net.layers[net.index_of(f"pool{b}")], nn.AvgPool2d) for b in range(1, 6))
    assert not any(isinstance(m, nn.ReLU) and m.inplace for m in net.layers)
    called: list[int] = []
    for index, module in enumerate(net.layers):
        module.register_forward_hook(lambda *_, index=index: called.append(index))
    out = net(torch.rand(1, 3, 32, 32), ["conv2_1", "relu1_1"])
    assert set(out) == {"conv2_1", "relu1_1"} and called == list(range(net.index_of("conv2_1") + 1))


def test_a_conv_output_is_not_rectified_in_place(tiny_weights: Path) -> None:
    out = load_feature_net(str(tiny_weights))(torch.rand(1, 3, 32, 32), ["conv1_1", "relu1_1"])
    assert (out["conv1_1"] < 0).any() and torch.equal(out["relu1_1"], out["conv1_1"].clamp_min(0))


def test_an_unknown_layer_lists_the_available_ones(tmp_path: Path) -> None:
    net = load_feature_net(str(save_state(vgg_state("vgg16"), tmp_path / "vgg16.pt")))
    with pytest.raises(TrainlabError, match=r"'conv5_4' is not in this feature net \(VGG-16.*conv5_1, conv5_2, "
                                            r"conv5_3 \("):
        net.check(["conv1_1", "conv5_4"])


def test_resnet_weights_are_refused(tmp_path: Path) -> None:
    path = save_state(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "resnet18.pth")
    with pytest.raises(TrainlabError, match=r"resnet18\.pth cannot serve as a style feature net: it has no VGG "
                                            r"features.*holds a ResNet with 8 residual blocks"):
        load_feature_net(str(path))


def test_a_shape_that_does_not_fit_is_named(tmp_path: Path) -> None:
    state = vgg_state("vgg13")
    state["features.7.weight"] = torch.zeros(8, 5, 3, 3)  # conv2_2 takes 8 channels at width 1/16
    with pytest.raises(TrainlabError, match=r"as a VGG-13 features \(width 0.0625\), features\.7\.weight has shape "
                                            r"\[8, 5, 3, 3\] where \[8, 8, 3, 3\] is expected"):
        load_feature_net(str(save_state(state, tmp_path / "odd.pt")))


def test_a_run_of_another_vgg_than_its_weights_is_refused() -> None:
    with pytest.raises(TrainlabError, match="its run trained 'vgg16', but its features hold 8 convolutions"):
        infer_architecture(vgg_state("vgg11"), "run", {"name": "vgg16", "width": TINY})


def test_a_grayscale_vgg_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TrainlabError, match=r"takes 1 input channel\(s\); style transfer works on RGB"):
        load_feature_net(str(save_state(vgg_state(in_channels=1), tmp_path / "gray.pt")))


def test_a_truncated_weights_file_is_one_error(tmp_path: Path, tiny_weights: Path) -> None:
    data = tiny_weights.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(TrainlabError, match=r"cut\.pt is not a readable PyTorch file.*truncated"):
        load_feature_net(str(cut))


def test_the_sidecar_gives_the_normalization_and_source(tiny_asset: Path) -> None:
    weights = read_style_weights(str(tiny_asset))
    assert weights.mean == (0.5, 0.4, 0.3) and weights.std == (0.25, 0.2, 0.3)
    net = load_feature_net(str(tiny_asset))
    assert "a test run; tiny" in net.source and net.normalization == "the weights' own mean/std"


def test_a_broken_sidecar_is_named(tmp_path: Path, tiny_weights: Path) -> None:
    path = save_state(vgg_state(), tmp_path / "net.pt")
    path.with_suffix(".json").write_text(json.dumps({"mean": [0.5, 0.5]}), encoding="utf-8")
    with pytest.raises(TrainlabError, match=r"net\.json: 'mean' must be a list of 3 numbers"):
        read_style_weights(str(path))


def test_the_packaged_net_is_used_without_weights(monkeypatch: pytest.MonkeyPatch, tiny_asset: Path) -> None:
    monkeypatch.setattr(features_module, "demo_weights_path", lambda: tiny_asset)
    net = load_feature_net(None)
    assert isinstance(net, FeatureNet) and net.source.startswith("packaged demo net vgg13_bn_w0.25_course.pt")
    assert net.description == "VGG-13 features (width 0.0625, BatchNorm)"


def test_no_packaged_net_and_no_weights_says_what_to_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features_module, "demo_weights_path", lambda: None)
    with pytest.raises(TrainlabError, match=r"packaged weights .* are not installed; pass --weights: a VGG-11/"
                                            r"13/16/19 .*torchvision VGG state_dict.*trainlab VGG run folder"):
        load_feature_net(None)
