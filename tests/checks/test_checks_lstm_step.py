"""The LSTM step calculator: a hand-worked course example, and the validation of weights and inputs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from trainlab.checks.lstm_step import (
    load_lstm_weights,
    lstm_params_from_mapping,
    parse_state,
    parse_steps,
    run_lstm_steps,
)
from trainlab.errors import TrainlabError


def sigma(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_course_example_by_hand(half: dict[str, float]) -> None:
    """hidden = input = 1, every weight 0.5, biases 0, x = [1, 0.5], h0 = c0 = 0, targets [0.5, 0.8]."""
    # step 1: every gate has z = 0.5·x1 + 0.5·h0 + 0 = 0.5·1 + 0.5·0 = 0.5
    z1 = 0.5 * 1 + 0.5 * 0 + 0
    i1 = f1 = o1 = sigma(z1)  # 1 / (1 + e^−0.5) = 0.622459
    g1 = math.tanh(z1)  # 0.462117
    c1 = f1 * 0 + i1 * g1  # 0 + 0.622459·0.462117 = 0.287649
    h1 = o1 * math.tanh(c1)  # 0.622459·tanh(0.287649) = 0.622459·0.279974 = 0.174270
    # step 2: z = 0.5·x2 + 0.5·h1 = 0.25 + 0.5·0.174270 = 0.337135
    z2 = 0.5 * 0.5 + 0.5 * h1
    i2 = f2 = o2 = sigma(z2)  # 0.583494
    g2 = math.tanh(z2)  # 0.324917
    c2 = f2 * c1 + i2 * g2  # 0.583494·0.287649 + 0.583494·0.324917 = 0.357429
    h2 = o2 * math.tanh(c2)  # 0.583494·0.342950 = 0.200108
    loss = ((h1 - 0.5) ** 2 + (h2 - 0.8) ** 2) / 2  # (0.106100 + 0.359871) / 2 = 0.232985
    assert (round(i1, 6), round(g1, 6), round(c1, 6), round(h1, 6)) == (0.622459, 0.462117, 0.287649, 0.17427)
    assert (round(z2, 6), round(c2, 6), round(h2, 6), round(loss, 6)) == (0.337135, 0.357429, 0.200108, 0.232985)

    params = lstm_params_from_mapping(half)
    result = run_lstm_steps(params, parse_steps("1,0.5"), parse_state("0", "--h0", 1), parse_state("0", "--c0", 1),
                            parse_steps("0.5,0.8", "--target"))
    first, second = result.steps
    for gate, value in (("i", i1), ("f", f1), ("g", g1), ("o", o1)):
        assert first.z[gate][0] == pytest.approx(z1, abs=1e-15)
        assert first.gates[gate][0] == pytest.approx(value, rel=1e-14)
    assert second.z["f"][0] == pytest.approx(z2, rel=1e-14) and second.gates["g"][0] == pytest.approx(g2, rel=1e-14)
    assert (first.c[0], first.h[0]) == pytest.approx((c1, h1), rel=1e-14)
    assert (second.c[0], second.h[0]) == pytest.approx((c2, h2), rel=1e-14)
    assert second.squared_error[0] == pytest.approx((h2 - 0.8) ** 2, rel=1e-13)
    assert result.loss == pytest.approx(loss, rel=1e-13)


def test_vector_example_uses_the_matrices() -> None:
    rng = np.random.default_rng(0)
    mapping = {}
    for gate in "ifgo":
        mapping |= {f"W_{gate}": rng.normal(size=(2, 3)).tolist(), f"U_{gate}": rng.normal(size=(2, 2)).tolist(),
                    f"b_{gate}": rng.normal(size=2).tolist()}
    params = lstm_params_from_mapping(mapping)
    assert (params.hidden, params.input) == (2, 3)
    xs = parse_steps("1 2 3; 0.5 0 -1")
    assert xs.shape == (2, 3)
    result = run_lstm_steps(params, xs, parse_state("0.1,-0.2", "--h0", 2), parse_state("0", "--c0", 2))
    W, U, b = (np.array(mapping[f"{k}_f"]) for k in "WUb")
    assert result.steps[0].z["f"] == pytest.approx(W @ xs[0] + U @ np.array([0.1, -0.2]) + b)
    assert result.loss is None


def test_parse_steps_formats() -> None:
    assert parse_steps("1,0.5").tolist() == [[1.0], [0.5]]
    assert parse_steps("1 2;0.5 0").tolist() == [[1.0, 2.0], [0.5, 0.0]]
    assert parse_steps("1,2; 3,4").tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert parse_state("0", "--h0", 3).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [("1,abc", "non-number"), ("", "is empty"), ("1 2;3", "steps of different sizes"), ("1,nan", "non-finite"),
     ("1,,2", "'1,,2' has an empty step"), ("1 2;;3 4", "'1 2;;3 4' has an empty step")],
)
def test_malformed_x(text: str, message: str) -> None:
    with pytest.raises(TrainlabError, match=message):
        parse_steps(text, "--x")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"U_f": [[0.5, 0.5]]}, r"U_f has shape \(1, 2\); expected \(1, 1\)"),
        ({"W_o": [[1], [2]]}, r"W_o has shape \(2, 1\); expected \(1, 1\)"),
        ({"b_i": [[0.0]]}, "b_i has shape"),
        ({"W_i": "big"}, "W_i = 'big' is not a number"),
        ({"W_i": True}, "is not a number"),
        ({"b_g": 0.1}, "b_c and b_g both given"),
        ({"V_i": 1}, "unknown key 'V_i'; accepted keys: W_i"),
        ({"W_f": [[1, 2], [3]]}, "W_f is a ragged list"),
    ],
)
def test_bad_weights(change: dict, message: str, half: dict[str, float]) -> None:
    with pytest.raises(TrainlabError, match=message):
        lstm_params_from_mapping(half | change)


def test_missing_keys_and_files(tmp_path: Path, half: dict[str, float]) -> None:
    with pytest.raises(TrainlabError, match=r"missing key.*U_o"):
        lstm_params_from_mapping({k: v for k, v in half.items() if k != "U_o"})
    with pytest.raises(TrainlabError, match="does not exist"):
        load_lstm_weights(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("W_i: [1, 2\n")
    with pytest.raises(TrainlabError, match="not valid YAML"):
        load_lstm_weights(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(TrainlabError, match="not a mapping"):
        load_lstm_weights(listed)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(half))
    assert load_lstm_weights(good).hidden == 1


def test_inputs_must_fit_the_weights(half: dict[str, float]) -> None:
    params = lstm_params_from_mapping(half)
    zero = np.zeros(1)
    with pytest.raises(TrainlabError, match="expect input=1"):
        run_lstm_steps(params, parse_steps("1 2"), zero, zero)
    with pytest.raises(TrainlabError, match="--target has 1 step"):
        run_lstm_steps(params, parse_steps("1,2"), zero, zero, parse_steps("1", "--target"))
    with pytest.raises(TrainlabError, match="--h0 '1,2' has 2 values; expected 1 or hidden=1"):
        parse_state("1,2", "--h0", 1)
