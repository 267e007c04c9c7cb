"""What tf2norm.reference (the independent NumPy oracle) computes for every golden fixture.

`reference_values(golden)` replays a golden case with tf2norm.reference on the case's own inputs
and weights and returns a value for each of its `out:` and `after:` keys, in the precision that is
active: TF 1.x's float32 arithmetic by default, the same math without float32 rounding inside
`tf2norm.reference.float64()`. `reference_gradients(golden)` returns the float64 gradients of the
case's loss (`sum(outputs * loss_weights)`, its `grad:` keys) by central differences of that float64
replay (or the reference's closed-form float64 gradients where it has them). tests/tolerance.py
measures TF 1.x's own float32 error with both; tests/test_reference.py checks the float32 replay.

Cases that are whole models with a convolution (`tfa_norm_model_convnet`) use a NumPy convolution
written here; no other arithmetic is written here.
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np

from tf2norm import reference as R
from tf2norm.reference import _common as _c
from tf2norm.reference import tf1_layers as _tf1_layers

# ------------------------------------------------------------------------------------ families


def family(golden) -> str:
    """The family of a golden case: the prefix of its file name (lstm, bn, tlbn, ...)."""
    name = golden.name
    for prefix in ("tfa_norm_model", "tfa_norm", "tfa_cell", "layernorm", "bnlstm", "lngru", "lstm", "tlbn", "bn",
                   "tf1cell", "tf1layers"):
        if name.startswith(prefix + "_"):
            return prefix
    raise KeyError(f"no reference replay for golden case {name}")


def _arrays(golden, dtype=None):
    """The case's `in:`/`var:`/`after:` arrays (cast to `dtype` when given: float64 for differences)."""
    if dtype is None:
        return dict(golden.arrays)
    return {k: (np.asarray(v, dtype) if np.asarray(v).dtype.kind == "f" else v) for k, v in golden.arrays.items()}


def reference_values(golden) -> dict:
    """The reference's value for every `out:` and `after:` key of `golden`."""
    values = _FORWARD[family(golden)](golden, _arrays(golden))
    wanted = {k for k in golden.arrays if k.startswith(("out:", "after:"))}
    missing = wanted - set(values)
    if missing:
        raise KeyError(f"{golden.name}: the reference replay gives no value for {sorted(missing)}")
    return {k: values[k] for k in sorted(wanted)}


def reference_gradients(golden) -> dict:
    """float64 gradients of the case's loss for every `grad:` key of `golden`."""
    keys = sorted(k for k in golden.arrays if k.startswith("grad:"))
    if not keys:
        return {}
    with R.float64():
        grads = _GRADIENTS[family(golden)](golden, keys)
    missing = set(keys) - set(grads)
    if missing:
        raise KeyError(f"{golden.name}: no reference gradient for {sorted(missing)}")
    return grads


# ------------------------------------------------------------------ central differences


def _step(value):
    """A difference step well inside the array's own spread (its curvature scale) and far above
    float64 rounding: 1e-4 of its standard deviation (of its largest magnitude if all equal)."""
    spread = float(np.std(value)) or float(np.max(np.abs(value))) or 1.0
    return 1e-4 * spread


def central_differences(loss, arrays, source_key):
    """d loss(arrays) / d arrays[source_key], element by element, in float64."""
    base = np.asarray(arrays[source_key], np.float64)
    grad = np.zeros_like(base)
    h = _step(base)
    for index in np.ndindex(base.shape):
        values = []
        for sign in (1.0, -1.0):
            moved = base.copy()
            moved[index] += sign * h
            values.append(loss({**arrays, source_key: moved}))
        grad[index] = (values[0] - values[1]) / (2.0 * h)
    return grad


def _differences(golden, keys, loss, source_of):
    arrays = _arrays(golden, np.float64)
    return {key: central_differences(loss, arrays, source_of(key)) for key in keys}


def _source(key, inputs_key="in:inputs"):
    """`grad:inputs` -> the inputs fed, `grad:<variable>` -> `var:<variable>`."""
    name = key[len("grad:"):]
    return inputs_key if name == "inputs" else "var:" + name


# ------------------------------------------------------------------------ LayerNormBasicLSTMCell


def _cell_weights(arrays, prefix, cell):
    prefix = f"var:{prefix}{cell}/"
    weights = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    assert weights, prefix
    return weights


def _lstm_outputs(golden, arrays):
    cfg = golden.config
    kw = dict(forget_bias=cfg["forget_bias"], layer_norm=cfg["layer_norm"],
              sequence_length=arrays.get("in:sequence_length"))
    x = arrays["in:inputs"]
    cell = "layer_norm_basic_lstm_cell"
    if cfg["bidirectional"]:
        (o_fw, o_bw), ((c_fw, h_fw), (c_bw, h_bw)) = R.ln_lstm_bidirectional(
            x, _cell_weights(arrays, "bidirectional_rnn/fw/", cell),
            _cell_weights(arrays, "bidirectional_rnn/bw/", cell), **kw)
        return {"out:outputs_fw": o_fw, "out:outputs_bw": o_bw, "out:state_fw_c": c_fw, "out:state_fw_h": h_fw,
                "out:state_bw_c": c_bw, "out:state_bw_h": h_bw}
    if cfg["layers"] == 1:
        out, (c, h) = R.ln_lstm_sequence(x, _cell_weights(arrays, "rnn/", cell), **kw)
        return {"out:outputs": out, "out:state_c": c, "out:state_h": h}
    weights = [_cell_weights(arrays, f"rnn/multi_rnn_cell/cell_{k}/", cell) for k in range(cfg["layers"])]
    out, states = R.ln_lstm_multi_sequence(x, weights, **kw)
    values = {"out:outputs": out}
    for k, (c, h) in enumerate(states):
        values.update({f"out:state_c_{k}": c, f"out:state_h_{k}": h})
    return values


def _sequence_loss(outputs):
    """`sum(outputs * loss_weights)`; bidirectional cases concatenate fw and bw first."""
    def loss(golden, arrays):
        values = outputs(golden, arrays)
        if "out:outputs_fw" in values:
            combined = np.concatenate([values["out:outputs_fw"], values["out:outputs_bw"]], axis=-1)
        else:
            combined = values["out:outputs"]
        return float(np.sum(np.asarray(combined, np.float64) * arrays["in:loss_weights"]))
    return loss


# ------------------------------------------------------------------------ layer-norm GRU


def _lngru_outputs(golden, arrays):
    cfg = golden.config
    relu = lambda a: np.maximum(a, 0)  # noqa: E731  (keeps the array's dtype)
    kw = dict(layer_norm=cfg["layer_norm"], sequence_length=arrays.get("in:sequence_length"),
              activation={"tanh": np.tanh, "relu": relu}[cfg["activation"]])
    x = arrays["in:inputs"]
    cell = "layer_norm_gru_cell"
    if cfg["bidirectional"]:
        (o_fw, o_bw), (h_fw, h_bw) = R.ln_gru_bidirectional(
            x, _cell_weights(arrays, "bidirectional_rnn/fw/", cell),
            _cell_weights(arrays, "bidirectional_rnn/bw/", cell), **kw)
        return {"out:outputs_fw": o_fw, "out:outputs_bw": o_bw, "out:state_fw": h_fw, "out:state_bw": h_bw}
    if cfg["layers"] == 1:
        out, h = R.ln_gru_sequence(x, _cell_weights(arrays, "rnn/", cell), **kw)
        return {"out:outputs": out, "out:state": h}
    weights = [_cell_weights(arrays, f"rnn/multi_rnn_cell/cell_{k}/", cell) for k in range(cfg["layers"])]
    out, hs = R.ln_gru_multi_sequence(x, weights, **kw)
    return {"out:outputs": out, **{f"out:state_{k}": h for k, h in enumerate(hs)}}


# ------------------------------------------------------------------------ contrib batch_norm

BN_VARIABLES = {
    "moving_mean": "BatchNorm/moving_mean",
    "moving_variance": "BatchNorm/moving_variance",
    "biased": "BatchNorm/BatchNorm/moving_mean/biased",
    "local_step": "BatchNorm/BatchNorm/moving_mean/local_step",
    "moving_stddev": "BatchNorm/moving_stddev",
    "renorm_mean": "BatchNorm/renorm_mean",
    "renorm_stddev": "BatchNorm/renorm_stddev",
}


def bn_options(cfg):
    """The reference's arguments for a contrib batch_norm case: (options, zero_debias, renorm)."""
    kw = cfg["kwargs"]
    rank = cfg["rank"]
    updates_default = kw.get("updates_collections", "UPDATE_OPS") == "UPDATE_OPS"
    zero_debias = bool(kw.get("zero_debias_moving_mean", False))
    renorm = bool(kw.get("renorm", False))
    weights, adjustment = kw.get("batch_weights"), kw.get("adjustment")
    path = R.contrib_path(rank, kw.get("fused"), renorm, weights, adjustment, zero_debias_moving_mean=zero_debias,
                          updates_collections_default=updates_default)
    return dict(
        axis=1 if cfg["data_format"] == "NCHW" else -1,
        epsilon=kw.get("epsilon", 1e-3),
        decay=kw.get("decay", 0.999),
        fused=R.contrib_uses_fused(rank, kw.get("fused"), renorm, weights, adjustment),
        decay_in_float32=path == "core_fused",
        batch_weights=weights,
        # TF 1.15's legacy path ignored adjustment (R.contrib_path's docstring).
        adjustment=(adjustment["scale"], adjustment["bias"]) if adjustment and path.startswith("core") else None,
        renorm_clipping=kw.get("renorm_clipping"),
        renorm_decay=kw.get("renorm_decay", 0.99),
    ), zero_debias, renorm


def bn_steps(cfg, arrays, options=None, chain=True):
    """Replays every step of a contrib batch_norm case; yields (k, y, state) per step.

    chain=True carries the reference's own state from step to step; chain=False restarts each
    step from TF's `after:<k-1>` values.
    """
    opts, zero_debias, renorm = options or bn_options(cfg)
    kw = cfg["kwargs"]
    path = R.contrib_path(cfg["rank"], kw.get("fused"), renorm, kw.get("batch_weights"), kw.get("adjustment"),
                          zero_debias_moving_mean=zero_debias,
                          updates_collections_default=kw.get("updates_collections", "UPDATE_OPS") == "UPDATE_OPS")
    frozen = not kw.get("trainable", True) and path.startswith("core")  # its updates never ran
    beta = arrays.get("var:BatchNorm/beta")
    gamma = arrays.get("var:BatchNorm/gamma")
    state = {k: arrays["var:" + v] for k, v in BN_VARIABLES.items() if "var:" + v in arrays}
    for k, step in enumerate(cfg["steps"]):
        if not chain and k > 0:
            state = {n: arrays[f"after:{k - 1}:{v}"] for n, v in BN_VARIABLES.items() if "var:" + v in arrays}
        zd = {n: state[n] for n in ("biased", "local_step")} if zero_debias else None
        rn = {n: state[n] for n in ("moving_stddev", "renorm_mean", "renorm_stddev")} if renorm else None
        y, updated = R.batch_norm(arrays[f"in:step{k}"], training=step["training"], beta=beta, gamma=gamma,
                                  moving_mean=state["moving_mean"], moving_variance=state["moving_variance"],
                                  zero_debias_state=zd, renorm_state=rn, **opts)
        if not frozen:
            state = updated
        yield k, y, state


def _bn_outputs(golden, arrays):
    values = {}
    for k, y, state in bn_steps(golden.config, arrays):
        values[f"out:step{k}"] = y
        for name, var in BN_VARIABLES.items():
            if name in state:
                values[f"after:{k}:{var}"] = state[name]
        for p in ("beta", "gamma"):  # batch_norm never changes them
            if f"var:BatchNorm/{p}" in arrays:
                values[f"after:{k}:BatchNorm/{p}"] = arrays[f"var:BatchNorm/{p}"]
    return values


@contextlib.contextmanager
def _renorm_held_at(r, d):
    """TF wrapped renorm's r and d in stop_gradient: while differencing, they keep these values. Every
    reference module that calls renorm_correction imported it by name, so each one's is replaced."""
    modules = [m for name, m in list(sys.modules.items())
               if name.startswith("tf2norm.reference") and hasattr(m, "renorm_correction")]
    saved = [(m, m.renorm_correction) for m in modules]
    for m in modules:
        m.renorm_correction = lambda *args, **kwargs: (r, d)
    try:
        yield
    finally:
        for m, function in saved:
            m.renorm_correction = function


def _first_step_loss(forward, renorm_of=None):
    """Differences of `sum(out:step0 * loss_weights)` for the batch norms (first step, a training one)."""
    def gradients(golden, keys):
        arrays = _arrays(golden, np.float64)

        def loss(moved):
            return float(np.sum(forward(golden, moved) * moved["in:loss_weights"]))

        held = renorm_of(golden, arrays) if renorm_of else None
        with _renorm_held_at(*held) if held else contextlib.nullcontext():
            return {key: central_differences(loss, arrays, _source(key, "in:step0")) for key in keys}
    return gradients


def _bn_first_output(golden, arrays):
    return next(bn_steps(golden.config, arrays))[1]


def _bn_renorm_at_first_step(golden, arrays):
    if not golden.config["kwargs"].get("renorm"):
        return None
    opts, _, _ = bn_options(golden.config)
    return _first_step_renorm(arrays["in:step0"], opts["axis"], opts["epsilon"], opts["renorm_clipping"],
                              arrays["var:BatchNorm/renorm_mean"], arrays["var:BatchNorm/renorm_stddev"])


def _first_step_renorm(x, axis, epsilon, clipping, renorm_mean, renorm_stddev, virtual_batch_size=None):
    """r and d of the first training step (from the batch moments, as the reference computes them)."""
    x = np.asarray(x, R.F32)
    if virtual_batch_size is not None:
        x = x.reshape((virtual_batch_size, -1) + x.shape[1:])
        axis = axis % (x.ndim - 1) + 1
        skip = (axis, 1)
    else:
        axis = axis % x.ndim
        skip = (axis,)
    red = tuple(i for i in range(x.ndim) if i not in skip)
    mean = R.reduce_mean(x, red, keepdims=True)
    dev = (x - mean).astype(R.F32)
    var = R.reduce_mean(dev * dev, red, keepdims=True)
    if virtual_batch_size is not None:
        mean, var = R.reduce_mean(mean, 1, keepdims=True), R.reduce_mean(var, 1, keepdims=True)
    return R.renorm_correction(mean.reshape(-1), var.reshape(-1), np.reshape(renorm_mean, -1),
                               np.reshape(renorm_stddev, -1), epsilon, clipping)


# ------------------------------------------------------------------------ tf.layers batch norm

TLBN_EXTRAS = ("moving_stddev", "renorm_mean", "renorm_stddev")


def tlbn_variables(cfg):
    """Role (gamma, moving_mean, ...) -> full TF1 variable name."""
    return {name.rsplit("/", 1)[-1]: name for name, _ in cfg["variables"]}


def tlbn_steps(cfg, arrays, chain=True):
    """Replays every step of a tf.layers case; yields (k, y, state, names) per step."""
    kw = cfg["kwargs"]
    names = tlbn_variables(cfg)
    renorm = bool(kw.get("renorm"))
    adjustment = kw.get("adjustment")
    fused = R.layers_uses_fused(cfg["rank"], kw.get("axis", -1), kw.get("fused"), renorm,
                                kw.get("virtual_batch_size"), adjustment)
    state = {k: arrays["var:" + names[k]] for k in ("moving_mean", "moving_variance") + TLBN_EXTRAS if k in names}
    for k, step in enumerate(cfg["steps"]):
        if not chain and k > 0:
            state = {n: arrays[f"after:{k - 1}:{names[n]}"] for n in state}
        y, state = R.layers_batch_normalization(
            arrays[f"in:step{k}"], axis=kw.get("axis", -1), training=step["training"],
            beta=arrays.get("var:" + names.get("beta", "")), gamma=arrays.get("var:" + names.get("gamma", "")),
            moving_mean=state["moving_mean"], moving_variance=state["moving_variance"],
            epsilon=kw.get("epsilon", 1e-3), momentum=kw.get("momentum", 0.99), fused=fused,
            renorm_state={n: state[n] for n in TLBN_EXTRAS} if renorm else None,
            renorm_clipping=kw.get("renorm_clipping"), renorm_momentum=kw.get("renorm_momentum", 0.99),
            virtual_batch_size=kw.get("virtual_batch_size"),
            adjustment=None if adjustment is None else (adjustment["scale"], adjustment["bias"]),
            update=bool(step["updates_of"]) and kw.get("trainable", True))
        yield k, y, state, names


def _tlbn_outputs(golden, arrays):
    values = {}
    for k, y, state, names in tlbn_steps(golden.config, arrays):
        values[f"out:step{k}"] = y
        for role, value in state.items():
            values[f"after:{k}:{names[role]}"] = value
        for p in ("beta", "gamma"):
            if p in names:
                values[f"after:{k}:{names[p]}"] = arrays["var:" + names[p]]
    return values


def _tlbn_first_output(golden, arrays):
    return next(tlbn_steps(golden.config, arrays))[1]


def _tlbn_renorm_at_first_step(golden, arrays):
    kw = golden.config["kwargs"]
    if not kw.get("renorm"):
        return None
    names = tlbn_variables(golden.config)
    return _first_step_renorm(arrays["in:step0"], kw.get("axis", -1), kw.get("epsilon", 1e-3),
                              kw.get("renorm_clipping"), arrays["var:" + names["renorm_mean"]],
                              arrays["var:" + names["renorm_stddev"]], kw.get("virtual_batch_size"))


# ------------------------------------------------------------------------ contrib layer_norm


def _ln_calls(cfg, arrays):
    for call in cfg["calls"]:
        kwargs = dict(cfg["kwargs"], **call["kwargs"])
        axes = dict(begin_norm_axis=kwargs.get("begin_norm_axis", 1),
                    begin_params_axis=kwargs.get("begin_params_axis", -1))
        beta = arrays.get(f"var:{call['scope']}/beta")
        gamma = arrays.get(f"var:{call['scope']}/gamma")
        yield call, kwargs, axes, beta, gamma


def ln_calls(golden):
    """(call, kwargs, axes, beta, gamma) for every layer_norm call of a layernorm case."""
    return list(_ln_calls(golden.config, golden.arrays))


def _ln_outputs(golden, arrays):
    values = {}
    for call, kwargs, axes, beta, gamma in _ln_calls(golden.config, arrays):
        relu = kwargs.get("activation_fn") == "relu"
        x = arrays["in:" + call["in"]]
        if golden.config["dtype"] == "float16" and np.asarray(x).dtype != np.float16:
            x = np.asarray(x, np.float16)  # TF1 ran the float16 arithmetic (its epsilon) on these
        values["out:" + call["out"]] = R.contrib_layer_norm(
            x, beta, gamma, activation=(lambda t: np.maximum(t, 0)) if relu else None, **axes)
    return values


def _ln_gradients(golden, keys):
    """The reference's closed-form float64 gradients, summed over the calls sharing a variable."""
    grads = {}
    arrays = golden.arrays
    for call, kwargs, axes, beta, gamma in _ln_calls(golden.config, arrays):
        weights = np.asarray(arrays["in:" + call["loss_weights"]], np.float64)
        if kwargs.get("activation_fn") == "relu":
            with R.float64():
                y = _ln_outputs(golden, arrays)["out:" + call["out"]]
            weights = weights * (y > 0)
        call_grads = R.contrib_layer_norm_grads(arrays["in:" + call["in"]], weights, beta, gamma, **axes)
        grads["grad:" + call["in"]] = call_grads["inputs"]
        for p in ("beta", "gamma"):
            if p in call_grads:
                key = f"grad:{call['scope']}/{p}"
                grads[key] = grads.get(key, 0.0) + call_grads[p]
    return {k: v for k, v in grads.items() if k in keys}


# ------------------------------------------------------------------------ tfa GroupNormalization


def tfa_norm_arguments(golden):
    cfg = golden.config
    kwargs = cfg["kwargs"]
    prefix = f"var:{cfg['layer_name']}/"
    return dict(gamma=golden.arrays.get(prefix + "gamma"), beta=golden.arrays.get(prefix + "beta"),
                groups=-1 if cfg["layer"] == "InstanceNormalization" else kwargs.get("groups", 32),
                axis=kwargs.get("axis", -1), epsilon=kwargs.get("epsilon", 1e-3))


def _tfa_norm_outputs(golden, arrays):
    args = tfa_norm_arguments(golden)
    dtype = np.float16 if golden.config["kwargs"].get("dtype") == "mixed_float16" else np.float32
    return {"out:outputs": R.tfa_group_norm(arrays["in:inputs"], dtype=dtype, **args)}


def _tfa_norm_gradients(golden, keys):
    cfg = golden.config
    args = tfa_norm_arguments(golden)
    grads = R.tfa_group_norm_grads(golden["in:inputs"], golden["in:loss_weights"], **args)
    names = {"inputs": "grad:inputs", "gamma": f"grad:{cfg['layer_name']}/gamma",
             "beta": f"grad:{cfg['layer_name']}/beta"}
    return {names[k]: v for k, v in grads.items() if names[k] in keys}


def _conv2d(x, kernel, bias, padding):
    """Keras' Conv2D (NHWC, stride 1) in the reference's precision."""
    kh, kw = kernel.shape[:2]
    if padding == "same":
        x = np.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # [B, H', W', C, kh, kw]
    out = np.einsum("bijcuv,uvco->bijo", windows, kernel)
    return (out + bias).astype(R.F32)


def _tfa_convnet_outputs(golden, arrays):
    """fixtures/tfa/tfa_normalization.py's conv net: conv, group norm, relu, conv, instance norm,
    global average pooling, dense."""
    layers = {layer["name"]: layer["config"] for layer in golden.config["layers"]}

    def var(name):
        return arrays["var:" + name]

    net = _conv2d(arrays["in:inputs"], var("conv2d/kernel"), var("conv2d/bias"), "same")
    gn = layers["group_normalization"]
    net = R.tfa_group_norm(net, var("group_normalization/gamma"), var("group_normalization/beta"),
                           groups=gn["groups"], epsilon=gn["epsilon"])
    net = np.maximum(net, 0)
    net = _conv2d(net, var("conv2d_1/kernel"), var("conv2d_1/bias"), "valid")
    inorm = layers["instance_normalization"]
    net = R.tfa_group_norm(net, var("instance_normalization/gamma"), None, groups=-1, epsilon=inorm["epsilon"])
    net = R.reduce_mean(net, (1, 2))
    out = (np.matmul(net, var("dense/kernel")).astype(R.F32) + var("dense/bias")).astype(R.F32)
    return {"out:outputs": out}


# ------------------------------------------------------------------------ tfa LayerNorm cells


def _tfa_stepper(cfg, weights):
    kw = cfg["kwargs"]
    if cfg["cell"] == "LayerNormLSTMCell":
        return lambda x, s: R.tfa_ln_lstm_step(
            x, s, weights, norm_epsilon=kw.get("norm_epsilon", 1e-3), activation=kw.get("activation", "tanh"),
            recurrent_activation=kw.get("recurrent_activation", "sigmoid"))
    return lambda x, s: R.tfa_ln_simple_rnn_step(
        x, s, weights, layernorm_epsilon=kw.get("layernorm_epsilon", 1e-5), activation=kw.get("activation", "tanh"))


def tfa_cell_scopes(cfg):
    """Each cell's scope (`<...>/` before its weights' names): every cell's weights start with its kernel."""
    return sorted(n[:-len("kernel")] for n in cfg["weights"] if n.rsplit("/", 1)[-1] == "kernel")


def _tfa_cell_outputs(golden, arrays):
    cfg = golden.config
    scopes = tfa_cell_scopes(cfg)
    x = arrays["in:inputs"]
    n_states = 2 if cfg["cell"] == "LayerNormLSTMCell" else 1
    zeros = np.zeros((cfg["batch"], cfg["units"]), np.asarray(x).dtype)
    initial = [arrays[f"in:initial_state_{k}"] for k in range(n_states)] if cfg["initial_state"] else [zeros] * n_states
    mask = arrays["in:mask"] if cfg["masked"] else None

    def weights(scope):
        return {n[len(scope):]: arrays["var:" + n] for n in cfg["weights"] if n.startswith(scope)}

    if cfg["structure"] == "bidirectional":
        backward, forward = scopes  # "<...>/backward_rnn/..." sorts first
        outputs, fw, bw = R.keras_bidirectional(_tfa_stepper(cfg, weights(forward)),
                                                _tfa_stepper(cfg, weights(backward)), x, initial, mask=mask)
        results = [outputs, *fw, *bw]
    else:
        (scope,) = scopes
        outputs, state = R.keras_rnn(_tfa_stepper(cfg, weights(scope)), x, initial, mask=mask)
        results = [outputs, *state]
    return {"out:" + name: value for name, value in zip(cfg["outputs"], results)}


def _tfa_cell_loss(golden, arrays):
    outputs = _tfa_cell_outputs(golden, arrays)["out:outputs"]
    return float(np.sum(np.asarray(outputs, np.float64) * arrays["in:loss_weights"]))


# ------------------------------------------------------------------------ BNLSTMCell

BNLSTM_ACTIVATIONS = {"tanh": np.tanh, "softsign": lambda a: a / (1 + np.abs(a))}


def bnlstm_layers(arrays, cfg, prefix):
    """Per stacked cell, its `prefix` arrays keyed relative to the cell scope."""
    return [{k[len(prefix) + len(scope) + 1:]: v for k, v in arrays.items() if k.startswith(f"{prefix}{scope}/")}
            for scope in cfg["cell_scopes"]]


def bnlstm_runs(cfg, arrays, upto=None):
    """Every run of a BNLSTM case replayed in order: yields (k, outputs, states, statistics)."""
    layers = bnlstm_layers(arrays, cfg, "var:")
    for k, run in enumerate(cfg["runs"][:upto]):
        outputs, states, stats = R.bn_lstm_sequence(
            arrays[f"in:{k}:inputs"], layers, max_bn_steps=cfg["max_bn_steps"], training=run["training"],
            decay=cfg["decay"], epsilon=cfg["epsilon"], forget_bias=cfg["forget_bias"],
            activation=BNLSTM_ACTIVATIONS[cfg["activation"]], sequence_length=arrays.get("in:sequence_length"))
        yield k, outputs, states, stats
        layers = [{**layer, **layer_stats} for layer, layer_stats in zip(layers, stats)]


def _bnlstm_outputs(golden, arrays):
    cfg = golden.config
    values = {}
    for k, outputs, states, stats in bnlstm_runs(cfg, arrays):
        values[f"out:{k}:outputs"] = outputs
        for n, (c, h, step) in enumerate(states):
            suffix = "" if len(states) == 1 else f"_{n}"
            values.update({f"out:{k}:state_c{suffix}": c, f"out:{k}:state_h{suffix}": h,
                           f"out:{k}:state_step{suffix}": step})
        for scope, layer_stats in zip(cfg["cell_scopes"], stats):
            values.update({f"after:{k}:{scope}/{name}": value for name, value in layer_stats.items()})
    return values


def _bnlstm_gradients(golden, keys):
    """Run k's gradients, from the statistics the runs before it left (the case's `grad:<k>:` keys)."""
    arrays = _arrays(golden, np.float64)
    grads = {}
    for run in range(len(golden.config["runs"])):
        prefix = f"grad:{run}:"
        run_keys = [k for k in keys if k.startswith(prefix)]
        if not run_keys:
            continue
        # The statistics at the start of run k, folded into the weights (they are not differentiated).
        start = dict(arrays)
        for _, _, _, stats in bnlstm_runs(golden.config, arrays, upto=run):
            for scope, layer_stats in zip(golden.config["cell_scopes"], stats):
                start.update({f"var:{scope}/{name}": value for name, value in layer_stats.items()})
        only_run = dict(golden.config, runs=[golden.config["runs"][run]])

        def loss(moved, run=run, only_run=only_run):
            moved = {**moved, "in:0:inputs": moved[f"in:{run}:inputs"]}
            _, outputs, _, _ = next(bnlstm_runs(only_run, moved))
            return float(np.sum(np.asarray(outputs, np.float64) * moved["in:loss_weights"]))

        for key in run_keys:
            name = key[len(prefix):]
            source = f"in:{run}:inputs" if name == "inputs" else "var:" + name
            grads[key] = central_differences(loss, start, source)
    return grads



# ------------------------------------------------------------------------ TF1's core cells and wrappers

_TF1CELL_SCOPES = {"BasicRNNCell": "basic_rnn_cell", "BasicLSTMCell": "basic_lstm_cell", "LSTMCell": "lstm_cell",
                   "GRUCell": "gru_cell", "LayerNormBasicLSTMCell": "layer_norm_basic_lstm_cell",
                   "SketchCell": "SketchCell", "CallCell": "call_cell", "LSTMBlockCell": "lstm_cell",
                   "GRUBlockCell": "gru_cell", "GRUBlockCellV2": "gru_cell",
                   "CudnnCompatibleLSTMCell": "cudnn_compatible_lstm_cell",
                   "CudnnCompatibleGRUCell": "cudnn_compatible_gru_cell", "LSTMBlockFusedCell": "lstm_fused_cell"}


def _sketch_step(x, state, w):
    """fixtures/tf1/tf1_rnn_cells.py's SketchCell (state (c, h), concatenated in TF1)."""
    c, h = state
    z = (np.matmul(np.concatenate([_c._f32(x), _c._f32(h)], 1), _c._f32(w["W"])).astype(R.F32) + _c._f32(w["b"]))
    a, g = np.split(z.astype(R.F32), 2, axis=1)
    new_c = (c * _c._sigmoid(g)).astype(R.F32) + _c._tanh(a)
    new_c = new_c.astype(R.F32)
    new_h = _c._tanh(new_c)
    return new_h, (new_c, new_h)


def _call_cell_step(x, state, w):
    """fixtures/tf1/tf1_rnn_cells.py's CallCell."""
    (h,) = state
    z = np.matmul(np.concatenate([_c._f32(x), _c._f32(h)], 1), _c._f32(w["kernel"])).astype(R.F32) + _c._f32(w["bias"])
    new_h = _c._tanh(z.astype(R.F32))
    return new_h, (new_h,)


def _residual(step):
    """ResidualWrapper: the cell's output plus its input."""
    def wrapped(x, state, weights):
        output, new_state = step(x, state, weights)
        return (_c._f32(x) + output).astype(R.F32), new_state
    return wrapped


def _tf1cell_layer(spec, weights, batch, clip=None):
    """(step, zero state, state concatenated in TF1) of one cell spec of a tf1cell case, wrappers applied."""
    from tf2norm.reference import tf1_rnn_cells as cells

    cls, kw = spec["class"], spec["kwargs"]
    if cls in cells.STEPS:
        step, zero = cells.cell_step(cls, kw, clip=clip), cells.zero_state(cls, kw, batch)
    else:
        units = kw["num_units"]
        step = {"LayerNormBasicLSTMCell": lambda x, s, w: R.ln_lstm_step(x, s, w),
                "SketchCell": _sketch_step, "CallCell": _call_cell_step}[cls]
        zero = tuple(np.zeros((batch, units), R.F32) for _ in range(1 if cls == "CallCell" else 2))
    for wrapper, options in spec["wrappers"]:
        if wrapper == "ResidualWrapper":
            step = _residual(step)
        elif wrapper == "DropoutWrapper":
            assert all(v == 1.0 for k, v in options.items() if k.endswith("keep_prob")), options  # no mask to replay
        else:
            assert wrapper == "DeviceWrapper", wrapper
    concatenated = cls == "SketchCell" or (cls in ("BasicLSTMCell", "LSTMCell") and not kw.get("state_is_tuple", True))
    return step, zero, concatenated


def _tf1cell_outputs(golden, arrays, clip=None):
    from tf2norm.reference import tf1_rnn_cells as cells

    cfg = golden.config
    if cfg["rnn"].startswith("stack_bidirectional"):
        return _tf1cell_stack_outputs(golden, arrays, clip)
    stacked = len(cfg["cells"]) > 1
    layers, weights = [], []
    for i, spec in enumerate(cfg["cells"]):
        scope = spec["kwargs"].get("name") or _TF1CELL_SCOPES[spec["class"]]
        prefix = "" if cfg["rnn"] == "fused" else (f"rnn/multi_rnn_cell/cell_{i}/" if stacked else "rnn/")
        weights.append(_cell_weights(arrays, prefix, scope))
        layers.append(_tf1cell_layer(spec, weights[-1], cfg["batch"], clip))
    outputs, states = cells.dynamic_rnn(arrays["in:inputs"], [s for s, _, _ in layers], [z for _, z, _ in layers],
                                        weights, sequence_length=arrays.get("in:sequence_length"))
    flat = []
    for (_, _, concatenated), state in zip(layers, states):
        flat.extend([np.concatenate(state, axis=1)] if concatenated else list(state))
    return {"out:outputs": outputs, **{f"out:state_{i}": s for i, s in enumerate(flat)}}


# ------------------------------------------------------------------------------- tf.layers


def _tf1layers_outputs(golden, arrays):
    """One tf.layers function call of fixtures/tf1/tf1_layers.py on the case's inputs and variables."""
    cfg = golden.config
    function, kw = cfg["function"], dict(cfg["kwargs"])
    variables = {name.rsplit("/", 1)[-1]: arrays["var:" + name] for name, _ in cfg["variables"]}
    x = arrays["in:inputs"]
    activation = kw.get("activation")
    if function == "dense":
        out = _tf1_layers.dense(x, variables["kernel"], variables.get("bias"), activation)
    elif function in ("conv1d", "conv2d", "conv3d"):
        rank = int(function[4])

        def tup(value, default=1):
            value = kw.get(value, default)
            return (value,) * rank if isinstance(value, int) else tuple(value)

        out = _tf1_layers.conv(x, variables["kernel"], variables.get("bias"), tup("strides"),
                               kw.get("padding", "valid"), tup("dilation_rate"), activation)
    elif function == "conv2d_transpose":
        strides = kw.get("strides", 1)
        strides = (strides,) * 2 if isinstance(strides, int) else tuple(strides)
        out = _tf1_layers.conv2d_transpose(x, variables["kernel"], variables.get("bias"), strides,
                                           kw.get("padding", "valid"), activation)
    elif function == "separable_conv2d":
        out = _tf1_layers.separable_conv2d(x, variables["depthwise_kernel"], variables["pointwise_kernel"],
                                           variables.get("bias"), padding=kw.get("padding", "valid"),
                                           activation=activation)
    elif "pooling" in function:
        rank = int(function[-2])
        size, strides = ((kw[k],) * rank if isinstance(kw[k], int) else tuple(kw[k]) for k in ("pool_size", "strides"))
        out = _tf1_layers.pool(x, size, strides, kw.get("padding", "valid"),
                               "max" if function.startswith("max") else "average")
    else:
        assert function == "flatten", function
        out = _tf1_layers.flatten(x)
    return {"out:outputs": out}


def _tf1layers_loss(golden, arrays):
    return float(np.sum(np.asarray(_tf1layers_outputs(golden, arrays)["out:outputs"], np.float64)
                        * arrays["in:loss_weights"]))


# ------------------------------------------------------------------------------- dispatch

_FORWARD = {
    "lstm": _lstm_outputs,
    "lngru": _lngru_outputs,
    "bn": _bn_outputs,
    "tlbn": _tlbn_outputs,
    "layernorm": _ln_outputs,
    "tfa_norm": _tfa_norm_outputs,
    "tfa_norm_model": _tfa_convnet_outputs,
    "tfa_cell": _tfa_cell_outputs,
    "bnlstm": _bnlstm_outputs,
    "tf1cell": _tf1cell_outputs,
    "tf1layers": _tf1layers_outputs,
}


def _differenced(loss, inputs_key="in:inputs"):
    return lambda golden, keys: _differences(golden, keys, lambda arrays: loss(golden, arrays),
                                             lambda key: _source(key, inputs_key))


def _convnet_loss(golden, arrays):
    return float(np.sum(_tfa_convnet_outputs(golden, arrays)["out:outputs"] * arrays["in:loss_weights"]))


def _tf1cell_stack_outputs(golden, arrays, clip=None):
    """contrib's stack_bidirectional_(dynamic_)rnn cases: the forward then the backward layers' final states."""
    from tf2norm.reference import tf1_rnn_cells as cells

    cfg = golden.config
    inner = "" if cfg["rnn"] == "stack_bidirectional_static" else "bidirectional_rnn/"

    def layers(specs, direction):
        built = []
        for i, spec in enumerate(specs):
            scope = spec["kwargs"].get("name") or _TF1CELL_SCOPES[spec["class"]]
            weights = _cell_weights(arrays, f"stack_bidirectional_rnn/cell_{i}/{inner}{direction}/", scope)
            step, zero, concatenated = _tf1cell_layer(spec, weights, cfg["batch"], clip)
            assert not concatenated, spec
            built.append((step, zero, weights))
        return built

    outputs, states_fw, states_bw = cells.stack_bidirectional_rnn(
        arrays["in:inputs"], layers(cfg["cells"], "fw"), layers(cfg["cells_bw"], "bw"),
        sequence_length=arrays.get("in:sequence_length"))
    flat = [s for state in states_fw + states_bw for s in state]
    return {"out:outputs": outputs, **{f"out:state_{i}": s for i, s in enumerate(flat)}}


def _tf1cell_gradients(golden, keys):
    """Central differences of the tf1cell loss; an `LSTMBlockCell`'s cell clip is replayed as TF 1.15's
    gradient kernel treats it (the identity at the recorded point: reference.tf1_rnn_cells.StraightThroughClip)."""
    from tf2norm.reference import tf1_rnn_cells as cells

    clip = cells.StraightThroughClip()
    _tf1cell_outputs(golden, _arrays(golden, np.float64), clip)
    clip.replay()

    def loss(golden, arrays):
        clip.index = 0
        return _sequence_loss(lambda g, a: _tf1cell_outputs(g, a, clip))(golden, arrays)

    return _differenced(loss)(golden, keys)


_GRADIENTS = {
    "lstm": _differenced(_sequence_loss(_lstm_outputs)),
    "lngru": _differenced(_sequence_loss(_lngru_outputs)),
    "bn": _first_step_loss(_bn_first_output, _bn_renorm_at_first_step),
    "tlbn": _first_step_loss(_tlbn_first_output, _tlbn_renorm_at_first_step),
    "layernorm": _ln_gradients,
    "tfa_norm": _tfa_norm_gradients,
    "tfa_norm_model": _differenced(_convnet_loss),
    "tfa_cell": _differenced(_tfa_cell_loss),
    "bnlstm": _bnlstm_gradients,
    "tf1cell": _tf1cell_gradients,
    "tf1layers": _differenced(_tf1layers_loss),
}
