"""Recipe loading, overrides, validation errors and variant expansion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trainlab.config import Recipe, load_recipe, parse_override, recipe_names
from trainlab.errors import TrainlabError


def test_packaged_recipes_are_listed_and_valid() -> None:
    names = recipe_names()
    assert {"vgg13-ablation", "vgg13-gray32", "resnet18-ablation", "digits-demo"} <= set(names)
    for name in names:
        assert load_recipe(name).name == name


def test_cumulative_variants_switch_techniques_on_in_order() -> None:
    recipe = load_recipe("vgg13-ablation")
    variants = recipe.variants()
    assert [v.name for v in variants] == [
        "base", "+l2", "+l2+dropout", "+l2+dropout+early_stopping", "+l2+dropout+early_stopping+augmentation",
    ]
    base, l2, dropout, stopping, augmentation = (v.recipe.regularization for v in variants)
    assert (base.weight_decay, base.dropout, base.early_stopping, base.augmentation) == (0.0, 0.0, None, None)
    assert l2.weight_decay == 0.0005 and l2.dropout == 0.0
    assert dropout.weight_decay == 0.0005 and dropout.dropout == 0.5
    assert stopping.early_stopping is not None and stopping.early_stopping.patience == 3
    assert augmentation.augmentation is not None and augmentation.early_stopping is not None
    assert variants[-1].folder == "plus-l2-dropout-early_stopping-augmentation"


def test_one_at_a_time_variants_switch_one_technique_each() -> None:
    variants = load_recipe("resnet18-ablation").variants()
    assert [v.techniques for v in variants] == [(), ("l2",), ("dropout",), ("early_stopping",), ("augmentation",)]
    dropout_only = variants[2].recipe.regularization
    assert dropout_only.weight_decay == 0.0 and dropout_only.dropout == 0.3


def test_variants_do_not_mutate_the_recipe() -> None:
    recipe = load_recipe("vgg13-ablation")
    before = recipe.to_dict()
    recipe.variants()
    assert recipe.to_dict() == before
    with pytest.raises(Exception, match="frozen"):
        recipe.seed = 3  # type: ignore[misc]


def test_set_overrides_any_key_with_yaml_typed_values() -> None:
    recipe = load_recipe("vgg13-ablation", ["training.epochs=20", "model.options.hidden=[64, 32]",
                                            "regularization.early_stopping.patience=7", "data.path=/tmp/x"])
    assert recipe.training.epochs == 20
    assert recipe.model.options["hidden"] == [64, 32]
    assert recipe.regularization.early_stopping is not None and recipe.regularization.early_stopping.patience == 7
    assert recipe.data.path == Path("/tmp/x")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.epoch=3", "training.epoch: unknown key"),
        ("training.epochs=0", "training.epochs: Input should be greater than 0"),
        ("training.optimizer=rmsprop", "training.optimizer"),
        ("regularization.dropout=1.5", "regularization.dropout"),
        ("nonsense.key=1", "unknown key 'nonsense'"),
        ("training.epochs.deep=1", "'training.epochs' is a value"),
        ("data.split.train=0.9", "must sum to 1"),
        ("noequals", "expected KEY=VALUE"),
        ("data.split={train: 0.85, val: 0, test: 0.15}", "data.split.val: Input should be greater than 0"),
        ("study.repeats=0", "study.repeats"),
        ("study.techniques={bad/name: {training.lr: 0.1}}", "letters, digits and underscores"),
    ],
)
def test_bad_overrides_name_the_key(override: str, message: str) -> None:
    with pytest.raises(TrainlabError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_recipe("vgg13-ablation", [override])


def test_unknown_key_in_a_recipe_file_names_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ntraining:\n  epochs: 2\n  learning_rate: 0.1\n")
    with pytest.raises(TrainlabError, match=r"bad\.yaml.*training\.learning_rate: unknown key"):
        load_recipe(path)


def test_bad_technique_override_fails_at_load(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("name: s\nstudy:\n  mode: cumulative\n  techniques:\n    l2: {regularization.weight_decy: 0.1}\n")
    with pytest.raises(TrainlabError, match=r"regularization\.weight_decy: unknown key"):
        load_recipe(path)


def test_unknown_recipe_and_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(TrainlabError, match=r"unknown recipe 'nope'.*vgg13-ablation"):
        load_recipe("nope")
    with pytest.raises(TrainlabError, match="does not exist"):
        load_recipe(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(TrainlabError, match="not valid YAML"):
        load_recipe(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(TrainlabError, match="expected a mapping"):
        load_recipe(listing)


def test_parse_override_types() -> None:
    assert parse_override("a.b=3") == ("a.b", 3)
    assert parse_override("a.b=0.5") == ("a.b", 0.5)
    assert parse_override("a.b=null") == ("a.b", None)
    assert parse_override("a.b=true") == ("a.b", True)
    assert parse_override("a.b=text") == ("a.b", "text")


def test_resolved_recipe_round_trips_through_yaml(tmp_path: Path) -> None:
    recipe = load_recipe("resnet18-ablation", ["training.epochs=2"])
    path = tmp_path / "resolved.yaml"
    path.write_text(recipe.to_yaml())
    assert load_recipe(path) == recipe
    assert isinstance(recipe, Recipe)


def test_set_reaches_sections_the_recipe_file_leaves_out(tmp_path: Path) -> None:
    path = tmp_path / "minimal.yaml"
    path.write_text("name: minimal\n")
    recipe = load_recipe(path, [f"output.dir={tmp_path}", "regularization.augmentation.hflip=0.0"])
    assert recipe.output.dir == tmp_path
    assert recipe.regularization.augmentation is not None and recipe.regularization.augmentation.hflip == 0.0


def test_a_technique_key_set_with_dots_keeps_the_techniques_other_keys() -> None:
    recipe = load_recipe("vgg13-ablation", ["study.techniques.l2.regularization.weight_decay=0.01"])
    assert recipe.study.techniques["l2"] == {"regularization.weight_decay": 0.01}
    assert list(recipe.study.techniques) == ["l2", "dropout", "early_stopping", "augmentation"]
    new = load_recipe("vgg13-ablation", ["study.techniques.wide.model.width=0.5"])
    assert new.study.techniques["wide"] == {"model.width": 0.5}
    assert new.variants()[-1].recipe.model.width == 0.5


def test_repeats_give_consecutive_seeds() -> None:
    recipe = load_recipe("digits-demo", ["seed=7", "study.repeats=3"])
    assert recipe.seeds == [7, 8, 9]
    assert load_recipe("digits-demo").seeds == [0]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("training.lr=.inf", "training.lr"),
        ("regularization.weight_decay=.inf", "regularization.weight_decay"),
        ("training.lr=.nan", "training.lr"),
        ("training.momentum=-.inf", "training.momentum"),
        ("regularization.augmentation.crop_ratio=[0.5, .inf]", "regularization.augmentation.crop_ratio"),
    ],
)
def test_non_finite_numbers_are_refused(override: str, key: str) -> None:
    with pytest.raises(TrainlabError, match=rf"{key}.*finite number"):
        load_recipe("digits-demo", [override])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.epochs=true", "training.epochs: Input should be a valid integer"),
        ("training.epochs=2.0", "training.epochs: Input should be a valid integer"),
        ("training.epochs='3'", "training.epochs: Input should be a valid integer"),
        ("training.epochs=100000000000000000000000", "training.epochs: Input should be less than or equal to 100000"),
        ("training.batch_size=true", "training.batch_size: Input should be a valid integer"),
        ("seed=false", "seed: Input should be a valid integer"),
        ("data.image_size=100000", "data.image_size: Input should be less than or equal to 1024"),
        ("study.repeats=1.5", "study.repeats: Input should be a valid integer"),
    ],
)
def test_counts_are_strict_bounded_integers(override: str, message: str) -> None:
    with pytest.raises(TrainlabError, match=re.escape(message)):
        load_recipe("digits-demo", [override])


def test_exponent_floats_are_numbers_in_recipes_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("name: exp\ntraining:\n  lr: 1e-3\n")
    assert load_recipe(path, ["regularization.weight_decay=5e-4"]).training.lr == 0.001
    assert load_recipe(path, ["regularization.weight_decay=5e-4"]).regularization.weight_decay == 0.0005


@pytest.mark.parametrize(
    "technique",
    ["{seed: 7}", "{study.repeats: 4}", "{output.dir: elsewhere}", "{data.image_size: 16}", "{name: other}"],
)
def test_a_technique_may_only_change_model_training_and_regularization(technique: str) -> None:
    key = technique.strip("{}").split(":")[0]
    with pytest.raises(TrainlabError, match=rf"technique 'bad' sets '{re.escape(key)}'; a technique may only change "
                                            r"model\.\*, training\.\*, regularization\.\*"):
        load_recipe("digits-demo", [f"study.techniques.bad={technique}"])
    assert load_recipe("digits-demo", ["study.techniques.ok={training.lr: 0.1, model.width: 0.25}"])


def test_recipe_file_errors_are_one_line(tmp_path: Path) -> None:
    binary = tmp_path / "latin1.yaml"
    binary.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(TrainlabError, match=r"latin1\.yaml is not UTF-8 text: byte 0xe9 on line 1") as caught:
        load_recipe(binary)
    assert "\n" not in str(caught.value)
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    with pytest.raises(TrainlabError, match=r"folder\.yaml is a folder; expected a file"):
        load_recipe(folder)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ntraining:\n  epochs: 2\n   lr: 0.1\n")
    with pytest.raises(TrainlabError, match=r"broken\.yaml is not valid YAML: line 4, column 6: ") as caught:
        load_recipe(broken)
    assert "\n" not in str(caught.value)
