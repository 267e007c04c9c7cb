"""`ScipyOptimizerInterface`: TF 1.15's `tf.contrib.opt.ScipyOptimizerInterface`, which TF 2 removed
with tf.contrib, for programs that run in `tf.compat.v1` graph mode (a Session).

    opt = ScipyOptimizerInterface(loss, method="L-BFGS-B", options={"maxiter": 15000})
    opt.minimize(session, feed_dict=feed, fetches=[loss], loss_callback=print)

TF 1.15's contract (`tensorflow/contrib/opt/python/training/external_optimizer.py`; written anew
here): the constructor `(loss, var_list=None, equalities=None, inequalities=None,
var_to_bounds=None, **optimizer_kwargs)` takes the graph's trainable variables when `var_list` is
None, packs the variables (in `var_list` order, each flattened) into one vector, and builds the
gradients of the loss and of each constraint in the graph (a variable the tensor does not depend on
gets zeros). `minimize(session=None, feed_dict=None, fetches=None, step_callback=None,
loss_callback=None, **run_kwargs)` calls `scipy.optimize.minimize(f, x0, jac=True,
callback=step_callback, method=..., constraints=..., bounds=..., **optimizer_kwargs)` (method
L-BFGS-B unless given; `bounds` only through `var_to_bounds`, the others it sets raise ValueError as
TF1's did), where `f(x)` runs the loss and its gradient (float64 for SciPy) with the variables set to
`x`, calling `loss_callback(*fetched)` after each run; then it assigns the result to the variables and
logs TF1's "Optimization terminated with: ..." message at INFO.

So the same float32 losses and gradients reach SciPy, which takes the same path TF 1.15 took
(tests/replacements/test_contrib_opt_golden.py; fixtures/tf1/contrib_opt.py recorded it).

One difference, invisible to the loss: TF1 fed each `x` in place of its reference variables. A
resource variable (TF 2's default, `tf.compat.v1.enable_resource_variables`) cannot be fed for its
reads, so `x` is assigned to it before each evaluation; the variables then hold the last point SciPy
evaluated until `minimize` assigns the result (as TF1 did at its end). Reference variables
(`use_resource=False`) are fed, as in TF1.

SciPy is imported when `minimize` runs, as TF1 did; without it that call raises ImportError naming
`pip install scipy`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

_v1 = tf.compat.v1

#: The `scipy.optimize.minimize` arguments `minimize` sets itself.
_SET_BY_INTERFACE = ("jac", "callback", "method", "constraints", "bounds")


def _shape(var) -> tuple[int, ...]:
    return tuple(var.get_shape().as_list())


def _pack(tensors):
    """One flat rank-1 tensor of `tensors` (TF1's `_pack`: None for none, a reshape for one)."""
    if not tensors:
        return None
    if len(tensors) == 1:
        return tf.reshape(tensors[0], [-1])
    return tf.concat([tf.reshape(t, [-1]) for t in tensors], 0)


def _gradients(tensor, var_list):
    grads = tf.gradients(tensor, var_list)
    return [tf.zeros_like(var) if grad is None else grad for var, grad in zip(var_list, grads)]


def _is_reference(var) -> bool:
    return var.dtype._is_ref_dtype  # a TF1 reference variable (VariableV2), feedable in place


def _import_scipy_optimize():
    try:
        import scipy.optimize  # noqa: PLC0415  (lazily, as TF 1.15 did)
    except ImportError as err:
        raise ImportError("ScipyOptimizerInterface.minimize needs SciPy: pip install scipy") from err
    return scipy.optimize


class ScipyOptimizerInterface:
    """`scipy.optimize.minimize` driving a `tf.compat.v1.Session`, as TF 1.15's contrib class did."""

    _DEFAULT_METHOD = "L-BFGS-B"

    def __init__(self, loss, var_list=None, equalities=None, inequalities=None, var_to_bounds=None,
                 **optimizer_kwargs):
        self._loss = loss
        self._equalities = equalities or []
        self._inequalities = inequalities or []
        self._vars = _v1.trainable_variables() if var_list is None else list(var_list)
        self._packed_bounds = None if var_to_bounds is None else self._bounds(var_to_bounds)
        self._update_placeholders = [_v1.placeholder(var.dtype.base_dtype) for var in self._vars]
        self._var_updates = [var.assign(tf.reshape(placeholder, _shape(var)))
                             for var, placeholder in zip(self._vars, self._update_placeholders)]
        self.optimizer_kwargs = optimizer_kwargs
        self._packed_var = _pack(self._vars)
        self._packed_loss_grad = _pack(_gradients(loss, self._vars))
        self._packed_equality_grads = [_pack(_gradients(t, self._vars)) for t in self._equalities]
        self._packed_inequality_grads = [_pack(_gradients(t, self._vars)) for t in self._inequalities]
        ends = np.cumsum([0] + [int(np.prod(_shape(var), dtype=np.int64)) for var in self._vars])
        self._packing_slices = [slice(int(start), int(end)) for start, end in zip(ends[:-1], ends[1:])]

    def _bounds(self, var_to_bounds):
        """(low, high) per packed element; a variable without bounds gets (-inf, inf)."""
        low, high = [], []
        for var in self._vars:
            bounds = var_to_bounds[var] if var in var_to_bounds else (-np.inf, np.inf)
            low.extend(np.broadcast_to(bounds[0], _shape(var)).flat)
            high.extend(np.broadcast_to(bounds[1], _shape(var)).flat)
        return list(zip(low, high))

    def minimize(self, session=None, feed_dict=None, fetches=None, step_callback=None, loss_callback=None,
                 **run_kwargs):
        """Minimize the loss; the variables get the result when SciPy returns.

        `session` defaults to the default session; `fetches` (a list of tensors) are run with every
        loss evaluation and passed to `loss_callback` as positional arguments; `step_callback` gets the
        packed variable vector after each SciPy iteration; `run_kwargs` go to the final assignment's
        `session.run`.
        """
        session = session or _v1.get_default_session()
        feed_dict = feed_dict or {}
        fetches = fetches or []
        loss_callback = loss_callback or (lambda *fetched: None)
        step_callback = step_callback or (lambda xk: None)

        def evaluator(tensors, callback=None):
            return self._evaluator(tensors, session, feed_dict, fetches, callback)

        loss_grad = evaluator([self._loss, self._packed_loss_grad], loss_callback)
        def float64(tensors):
            # TF1 handed SciPy the float32 values in a list, which SciPy 1.7 converted to float64
            # itself; SciPy 1.16's SLSQP rejects anything but float64 arrays. Same numbers either way.
            evaluate = evaluator(tensors)
            return lambda x: np.asarray(evaluate(x), dtype=np.float64)

        constraints = (
            [{"type": "eq", "fun": float64(t), "jac": float64(g)}
             for t, g in zip(self._equalities, self._packed_equality_grads)]
            + [{"type": "ineq", "fun": float64(t), "jac": float64(g)}
               for t, g in zip(self._inequalities, self._packed_inequality_grads)])
        # SciPy 1.16's SLSQP takes float64 only; SciPy 1.7 (TF 1.15's) made float64 of this float32
        # vector itself (exact), so the path does not change.
        initial = session.run(self._packed_var).astype(np.float64)
        packed = self._scipy_minimize(initial, loss_grad, constraints, step_callback)
        session.run(self._var_updates, feed_dict=self._update_feed(packed), **run_kwargs)

    def _update_feed(self, packed):
        return {placeholder: packed[part] for placeholder, part in zip(self._update_placeholders, self._packing_slices)}

    def _evaluator(self, tensors, session, feed_dict, fetches, callback):
        """f(x): runs `tensors` (and `fetches`, given to `callback`) with the variables set to x."""
        tensors = tensors if isinstance(tensors, list) else [tensors]
        count = len(tensors)
        fed = [(var, part) for var, part in zip(self._vars, self._packing_slices) if _is_reference(var)]
        assigned = [(update, placeholder, part) for var, update, placeholder, part
                    in zip(self._vars, self._var_updates, self._update_placeholders, self._packing_slices)
                    if not _is_reference(var)]

        def evaluate(x):
            if assigned:
                session.run([update for update, _, _ in assigned],
                            feed_dict={placeholder: x[part] for _, placeholder, part in assigned})
            run_feed = {var: x[part].reshape(_shape(var)) for var, part in fed}
            run_feed.update(feed_dict)
            values = session.run(tensors + list(fetches), feed_dict=run_feed)
            if callable(callback):
                callback(*values[count:])
            return values[:count]

        return evaluate

    def _scipy_minimize(self, initial, loss_grad, constraints, step_callback):
        kwargs = dict(self.optimizer_kwargs)
        method = kwargs.pop("method", self._DEFAULT_METHOD)
        for name in _SET_BY_INTERFACE:
            if name in kwargs:
                if name == "bounds":
                    raise ValueError("Bounds must be set using the var_to_bounds argument")
                raise ValueError(f"Optimizer keyword arg '{name}' is set automatically and cannot be injected manually")

        def loss_and_gradient(x):
            loss, gradient = loss_grad(x)
            # float32 -> float64 is exact: SciPy 1.7 converted the loss itself, SciPy 1.16's SLSQP needs it done
            return np.float64(loss), gradient.astype("float64")

        optimize = _import_scipy_optimize()
        result = optimize.minimize(loss_and_gradient, initial, jac=True, callback=step_callback, method=method,
                                   constraints=constraints, bounds=self._packed_bounds, **kwargs)
        lines = ["Optimization terminated with:", "  Message: %s", "  Objective function value: %f"]
        values = [result.message, result.fun]
        if hasattr(result, "nit"):
            lines.append("  Number of iterations: %d")
            values.append(result.nit)
        if hasattr(result, "nfev"):
            lines.append("  Number of functions evaluations: %d")
            values.append(result.nfev)
        _v1.logging.info("\n".join(lines), *values)
        return result["x"]
