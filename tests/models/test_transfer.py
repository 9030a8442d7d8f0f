"""Pretrained weights from files: torchvision layouts, trainlab runs, freezing, learning-rate groups, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
import yaml

from trainlab.errors import TrainlabError
from trainlab.models import build_model
from trainlab.models.transfer import frozen_modules
from trainlab.models.weights import IMAGENET_MEAN, IMAGENET_STD, read_weights
from trainlab.train.optim import parameter_groups


def _perturb_batch_norm(model: torch.nn.Module) -> None:
    """Non-trivial running statistics and affine terms, so that a mapping error cannot hide behind identity BN."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.rand(module.num_features, generator=generator) - 0.5)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.bias.data.copy_(torch.rand(module.num_features, generator=generator) - 0.5)


def _save(state: dict, path: Path) -> Path:
    torch.save(state, path)
    return path


def _tiny_resnet(width: float = 0.125, num_classes: int = 3, **options: object) -> torch.nn.Module:
    return build_model("resnet18", in_channels=3, num_classes=num_classes, image_size=32, width=width,
                       options=dict(options))


def test_torchvision_resnet18_state_dict_gives_the_same_logits(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)
    _perturb_batch_norm(reference)
    path = _save(reference.state_dict(), tmp_path / "resnet18.pth")
    model = build_model("resnet18", in_channels=3, num_classes=1000, image_size=64, options={"weights": str(path)})
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        delta = (model.eval()(x) - reference.eval()(x)).abs().max().item()
    assert delta < 1e-5
    assert model.notes["pretrained_tensors"] == len(reference.state_dict())  # every tensor, num_batches_tracked too
    assert model.notes["new_layers"] == [] and model.notes["unexpected_tensors"] == 0
    assert model.input_normalization == (IMAGENET_MEAN, IMAGENET_STD)  # torchvision's convention


def test_torchvision_vgg11_state_dict_gives_the_same_logits(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = torchvision.models.vgg11(weights=None).eval()
    path = _save(reference.state_dict(), tmp_path / "vgg11.pth")
    # torchvision's classifier has Dropout (Linear layers at 0, 3, 6); without dropout trainlab's sit at 0, 2, 4
    model = build_model("vgg11", in_channels=3, num_classes=1000, image_size=224, options={"weights": str(path)})
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        delta = (model.eval()(x) - reference(x)).abs().max().item()
    assert delta < 1e-5
    assert model.notes["new_layers"] == [] and model.notes["unexpected_tensors"] == 0


def test_new_classes_get_a_new_head_and_freezing_leaves_only_it_trainable(tmp_path: Path) -> None:
    path = _save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "resnet18.pth")
    model = build_model("resnet18", in_channels=3, num_classes=2, image_size=32,
                        options={"weights": str(path), "freeze": True})
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc.weight", "fc.bias"}
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 512 * 2 + 2
    assert model.notes["new_layers"] == ["fc"] and model.notes["training"] == "frozen"
    frozen_batch_norms = [m for m in frozen_modules(model) if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(frozen_batch_norms) == 20  # stem 1 + 8 blocks × 2 + 3 downsample shortcuts


def test_backbone_lr_scale_puts_pretrained_layers_in_slower_groups(tmp_path: Path) -> None:
    source = _tiny_resnet()
    path = _save(source.state_dict(), tmp_path / "tiny.pt")
    model = _tiny_resnet(num_classes=2, weights=str(path), backbone_lr_scale=0.1)
    groups = parameter_groups(model, weight_decay=1e-4, lr=1e-3)
    full = [p for group in groups if "lr" not in group for p in group["params"]]
    slow = [p for group in groups if group.get("lr") == pytest.approx(1e-4) for p in group["params"]]
    assert {id(p) for p in full} == {id(model.fc.weight), id(model.fc.bias)}
    assert len(slow) == len(list(model.parameters())) - 2
    # weight decay still skips biases and BatchNorm parameters in the slow groups
    assert all(p.ndim >= 2 for group in groups if group["weight_decay"] > 0 for p in group["params"])


def test_a_trainlab_run_folder_gives_its_weights_and_normalization(tmp_path: Path) -> None:
    source = _tiny_resnet()
    variant = tmp_path / "runs" / "pretrain" / "20260101-000000" / "base"
    (variant / "checkpoints").mkdir(parents=True)
    state = {f"model.{key}": value for key, value in source.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 3}, variant / "checkpoints" / "best.ckpt")
    (variant / "config.yaml").write_text(yaml.safe_dump({"model": {"name": "resnet18", "width": 0.125}}))
    (variant / "input.json").write_text('{"task": "classification", "classes": ["a", "b", "c"], '
                                        '"input": {"kind": "image"}, '
                                        '"normalize": {"mean": [0.1, 0.2, 0.3], "std": [0.4, 0.5, 0.6]}}')
    found = read_weights(str(variant))
    assert found.kind == "trainlab run" and found.model["name"] == "resnet18"
    assert found.mean == (0.1, 0.2, 0.3) and found.std == (0.4, 0.5, 0.6)
    model = _tiny_resnet(num_classes=3, weights=str(variant))
    assert torch.equal(model.layer4[1].conv2.weight, source.layer4[1].conv2.weight)
    assert model.input_normalization == ((0.1, 0.2, 0.3), (0.4, 0.5, 0.6))
    # the checkpoint file alone, inside its run folder, reads the same normalization
    assert read_weights(str(variant / "checkpoints" / "best.ckpt")).mean == (0.1, 0.2, 0.3)


def test_a_plain_trainlab_state_dict_has_no_recorded_normalization(tmp_path: Path) -> None:
    path = _save(_tiny_resnet().state_dict(), tmp_path / "tiny.pt")
    model = _tiny_resnet(weights=str(path))
    assert model.input_normalization is None  # the data's own statistics are used instead
    assert "the data's own statistics" in model.notes["normalization"]


def test_a_ddp_state_dict_loads_with_its_prefix_stripped(tmp_path: Path) -> None:
    source = _tiny_resnet()
    path = _save({f"module.{key}": value for key, value in source.state_dict().items()}, tmp_path / "ddp.pt")
    model = _tiny_resnet(weights=str(path))
    assert torch.equal(model.stem[0].weight, source.stem[0].weight)


@pytest.mark.parametrize(("write", "message"), [
    (lambda path: None, r"weights '.*missing\.pt' do not exist; pass a trainlab run folder"),
    (lambda path: path.write_bytes(b"not a torch file"), r"not a readable PyTorch file .*truncated"),
    (lambda path: torch.save(torch.zeros(3), path), r"holds a Tensor, not a state_dict"),
    (lambda path: torch.save({"epoch": 3}, path), r"holds no tensors"),
])
def test_unreadable_weights_give_one_clear_error(tmp_path: Path, write: object, message: str) -> None:
    path = tmp_path / "missing.pt"
    write(path)  # type: ignore[operator]
    with pytest.raises(TrainlabError, match=message):
        _tiny_resnet(weights=str(path))


def test_a_truncated_weights_file_is_named(tmp_path: Path) -> None:
    whole = _save(_tiny_resnet().state_dict(), tmp_path / "whole.pt").read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(TrainlabError, match=rf"weights file {cut} is not a readable PyTorch file.*truncated"):
        _tiny_resnet(weights=str(cut))


def test_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    vgg = build_model("vgg11", in_channels=3, num_classes=3, image_size=32, width=0.125)
    path = _save(vgg.state_dict(), tmp_path / "vgg.pt")
    with pytest.raises(TrainlabError, match=r"do not fit model 'resnet18': \d+ backbone tensor\(s\) missing .*"
                                            r"The file holds VGG-11 features \(8 convolutions"):
        _tiny_resnet(weights=str(path))


def test_weights_of_another_width_name_the_shapes(tmp_path: Path) -> None:
    path = _save(_tiny_resnet(width=0.25).state_dict(), tmp_path / "wide.pt")
    with pytest.raises(TrainlabError, match=r"with another shape \(e\.g\. stem\.0\.weight: file \[16, 3, 7, 7\], "
                                            r"model \[8, 3, 7, 7\]\).*a ResNet with 8 residual blocks"):
        _tiny_resnet(width=0.125, weights=str(path))


@pytest.mark.parametrize(("options", "message"), [
    ({"freeze": True}, r"option 'freeze' needs pretrained weights: set model.options.weights"),
    ({"backbone_lr_scale": 0.1}, r"option 'backbone_lr_scale' needs pretrained weights"),
    ({"backbone_lr_scale": 0.0}, r"'backbone_lr_scale' must be a number in \(0, 1\], got 0.0"),
    ({"freeze": "yes"}, r"'freeze' must be true or false"),
    ({"weights": 3}, r"'weights' must be a path"),
])
def test_transfer_options_are_checked(options: dict, message: str) -> None:
    with pytest.raises(TrainlabError, match=message):
        _tiny_resnet(**options)


def test_torchvision_names_come_from_the_local_cache_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(TrainlabError, match=r"not in the local torch cache .* trainlab never downloads"):
        read_weights("torchvision:resnet18")
    with pytest.raises(TrainlabError, match=r"unknown torchvision weights 'resnet50'; trainlab maps: resnet18"):
        read_weights("torchvision:resnet50")
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), cache / "resnet18-f37072fd.pth")
    found = read_weights("torchvision:resnet18")
    assert found.kind == "torchvision cache" and found.mean == IMAGENET_MEAN


def test_a_study_folder_of_several_variants_asks_for_one(tmp_path: Path) -> None:
    study = tmp_path / "study"
    for folder in ("base", "plus-frozen"):
        (study / folder).mkdir(parents=True)
        (study / folder / "input.json").write_text("{}")
    variants = [{"name": name, "folder": name, "techniques": [], "runs": []} for name in ("base", "plus-frozen")]
    (study / "study.json").write_text(__import__("json").dumps({"variants": variants}))
    with pytest.raises(TrainlabError, match=r"is a study of 2 variants; weights come from one: pass one of .*base"):
        read_weights(str(study))
