"""tf2norm.replacements.ScipyOptimizerInterface: TF 1.15's contract beyond the numbers (test_contrib_opt_golden.py).

What TF 1.15's `external_optimizer.py` did: the trainable variables by default, `bounds` only through
`var_to_bounds` and the arguments it sets itself refused (its exact ValueErrors), the default session,
`fetches` given to `loss_callback`, the final assignment, the INFO message, and SciPy imported only by
`minimize` (a missing SciPy named with its pip command).
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
import tensorflow as tf

from tf2norm.replacements import ScipyOptimizerInterface

v1 = tf.compat.v1


@pytest.fixture()
def graph():
    with tf.Graph().as_default() as g:
        yield g


def _vector_problem():
    vector = v1.Variable([7.0, 7.0], name="vector")
    return vector, tf.reduce_sum(tf.square(vector))


def test_trainable_variables_are_the_default(graph):
    vector, loss = _vector_problem()
    frozen = v1.Variable([3.0], trainable=False)
    opt = ScipyOptimizerInterface(loss + tf.reduce_sum(frozen))
    with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        with session.as_default():  # minimize() takes the default session
            opt.minimize()
        assert session.run(frozen).tolist() == [3.0]
        # minimised (from 7): L-BFGS-B stops with a gradient 2x under 1e-5 or a loss |x|^2 within
        # 1e7 * eps of 0's, so |x| <= max(5e-6, sqrt(1e7 * eps)) = 4.7e-5 (measured: 1.9e-6)
        assert np.all(np.abs(session.run(vector)) <= np.sqrt(1e7 * np.finfo(float).eps))


def test_var_list_order_fetches_and_feed_reach_the_callbacks(graph):
    a = v1.Variable([[1.0, 2.0]])
    b = v1.Variable(5.0)
    scale = v1.placeholder(tf.float32, [])
    loss = scale * (tf.reduce_sum(tf.square(a - 1.0)) + tf.square(b - 2.0))
    opt = ScipyOptimizerInterface(loss, var_list=[b, a], options={"maxiter": 1})
    fetched, steps = [], []
    with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        opt.minimize(session, feed_dict={scale: 2.0}, fetches=[loss, scale],
                     step_callback=lambda xk: steps.append(xk.copy()),
                     loss_callback=lambda *values: fetched.append(values))
    # the first evaluation is at the initial values: 2 * ((0 + 1) + 9); the fed scale comes back
    assert fetched[0] == (np.float32(20.0), np.float32(2.0))
    assert len(steps) == 1 and steps[0].shape == (3,)  # b's one value, then a's two: var_list order


def test_variables_get_the_result_bounds_included(graph):
    vector, loss = _vector_problem()
    opt = ScipyOptimizerInterface(loss, var_to_bounds={vector: ([1, 2], np.inf)})
    with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        opt.minimize(session)
        assert session.run(vector).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("argument, message", [
    ("bounds", "Bounds must be set using the var_to_bounds argument"),
    ("jac", "Optimizer keyword arg 'jac' is set automatically and cannot be injected manually"),
    ("callback", "Optimizer keyword arg 'callback' is set automatically and cannot be injected manually"),
    ("constraints", "Optimizer keyword arg 'constraints' is set automatically and cannot be injected manually"),
])
def test_arguments_it_sets_itself_are_refused(graph, argument, message):
    _, loss = _vector_problem()
    opt = ScipyOptimizerInterface(loss, **{argument: None})
    with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        with pytest.raises(ValueError) as error:
            opt.minimize(session)
    assert str(error.value) == message


def test_the_message_tf1_logged(graph, monkeypatch):
    _, loss = _vector_problem()
    logged = []
    monkeypatch.setattr(v1.logging, "info", lambda text, *args: logged.append(text % args))
    opt = ScipyOptimizerInterface(loss)
    with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        opt.minimize(session)
    lines = logged[0].split("\n")
    assert lines[0] == "Optimization terminated with:"
    assert lines[1].startswith("  Message: ")
    assert lines[2] == "  Objective function value: 0.000000"
    assert re.fullmatch(r"  Number of iterations: [1-9][0-9]*", lines[3])
    assert re.fullmatch(r"  Number of functions evaluations: [1-9][0-9]*", lines[4])
    assert len(lines) == 5


def test_scipy_is_needed_only_by_minimize(graph, monkeypatch):
    _, loss = _vector_problem()
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)  # `import scipy.optimize` raises ImportError
    opt = ScipyOptimizerInterface(loss)  # builds without SciPy
    with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        with pytest.raises(ImportError) as error:
            opt.minimize(session)
    assert str(error.value) == "ScipyOptimizerInterface.minimize needs SciPy: pip install scipy"
