"""The compiled workspace plan (fastnet._train.Plan) trusts only the layout that
fastnet._params computes, and refuses any other with a clear error."""
import numpy as np
import pytest

from fastnet import _train
from fastnet._params import param_layout

SIZES = [5, 7, 3]


def _layout(sizes=SIZES):
    w_off, b_off, n_weights = param_layout(sizes)[:3]
    return list(w_off), list(b_off), n_weights


def test_a_plan_of_the_models_layout_is_made():
    w_off, b_off, n_weights = _layout()
    plan = _train.Plan(SIZES, w_off, b_off, n_weights, [0], 0, np.float64, 4)
    assert plan.n_layers == 2 and plan.capacity == 4 and plan.n_weights == n_weights
    assert plan.n_params == n_weights + sum(SIZES[1:])
    assert plan.acts.shape == plan.deltas.shape and plan.acts.dtype == np.float64


@pytest.mark.parametrize("change, match", [
    (lambda a: a.update(sizes=[5]), "not a network's layout"),
    (lambda a: a.update(sizes=[5, 0, 3]), "not a network's layout"),
    (lambda a: a.update(act_codes=[]), "not a network's layout"),
    (lambda a: a.update(w_off=[0, 36]), "not the layout of sizes"),
    (lambda a: a.update(b_off=[56, 62]), "not the layout of sizes"),
    (lambda a: a.update(n_weights=55), "not the layout of sizes"),
    (lambda a: a.update(capacity=0), "capacity must be at least 1"),
    (lambda a: a.update(act_codes=[99]), "not all implemented"),
])
def test_a_plan_refuses_any_other_layout(change, match):
    w_off, b_off, n_weights = _layout()
    args = dict(sizes=SIZES, w_off=w_off, b_off=b_off, n_weights=n_weights, act_codes=[0],
                output_code=0, dtype=np.float32, capacity=2)
    change(args)
    with pytest.raises(ValueError, match=match):
        _train.Plan(**args)
