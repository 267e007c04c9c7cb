"""``tf2norm checkpoint verify``: prove the replacement layers compute what TF1 computed.

For every group of a TF1 checkpoint, the replacement layer is loaded (from the TF1 values, or from a
converted directory with ``converted=``) and run; its results are compared either with

* the independent NumPy reference (``tf2norm.reference``) fed the TF1 values and seeded random
  inputs: a cell runs a batch of sequences of different lengths from a random state; a batch norm
  runs one inference pass and one training pass, whose updated statistics are compared too; or
* outputs recorded from real TF 1.x (``golden=``, format in :mod:`tf2norm.checkpoints.golden`),
  for the groups the golden file holds.

A group passes when every compared value satisfies ``|got - want| <= atol + rtol * |want|``.
The relative error reported is ``max|got - want| / max|want|`` over each compared array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import golden as gd
from . import manifest as mf
from .errors import CheckpointError
from .naming import LSTM_CELL, parse_data_format

RANDOM_BATCH = 3
RANDOM_STEPS = 7
RANDOM_LENGTHS = (7, 4, 1)


@dataclass
class Result:
    scope: str
    kind: str
    against: str
    max_abs: float
    max_rel: float
    passed: bool
    worst: str  # which compared quantity had the largest error


class _Compare:
    def __init__(self, atol, rtol):
        self.atol, self.rtol = atol, rtol
        self.max_abs = 0.0
        self.max_rel = 0.0
        self.passed = True
        self.worst = ""

    def mismatch(self, what):
        """The replacement cannot even take the inputs (a wrong layout, say): the group fails."""
        self.max_abs = self.max_rel = float("inf")
        self.passed = False
        self.worst = what

    def __call__(self, what, got, want):
        got = np.asarray(got, np.float64)
        want = np.asarray(want, np.float64)
        if got.shape != want.shape:
            raise CheckpointError(f"{what}: the replacement gave shape {list(got.shape)}, "
                                  f"the expected values have {list(want.shape)}")
        if not got.size:
            return
        diff = np.abs(got - want)
        diff = np.where(np.isnan(got) != np.isnan(want), np.inf, np.nan_to_num(diff, nan=0.0))
        err = float(diff.max())
        scale = float(np.max(np.abs(np.nan_to_num(want))))
        rel = err / scale if scale > 0 else (0.0 if err == 0 else np.inf)
        if err >= self.max_abs:
            self.max_abs, self.worst = err, what
        self.max_rel = max(self.max_rel, rel)
        if np.any(diff > self.atol + self.rtol * np.abs(want)):
            self.passed = False


# ----------------------------------------------------------------------------------------------
# running the replacements
# ----------------------------------------------------------------------------------------------


def run_cell(cell, inputs, lengths=None, initial_state=None):
    """``dynamic_rnn`` semantics with a replacement cell on Keras' RNN layer: (outputs, (c, h)).

    Outputs at and past each example's length are zero, the state frozen at its last valid step.
    """
    import keras
    import tensorflow as tf

    inputs = tf.convert_to_tensor(np.asarray(inputs, np.float32))
    b, t = inputs.shape[0], inputs.shape[1]
    lengths = np.full([b], t) if lengths is None else np.asarray(lengths).reshape(-1)
    mask = tf.constant(np.arange(t)[None, :] < lengths[:, None])
    if initial_state is None:
        initial_state = [np.zeros([b, cell.num_units], np.float32)] * 2
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    outputs, c, h = rnn(inputs, mask=mask,
                        initial_state=[tf.constant(np.asarray(s, np.float32)) for s in initial_state])
    outputs = tf.where(mask[:, :, None], outputs, tf.zeros_like(outputs))
    return outputs.numpy(), (c.numpy(), h.numpy())


def _bn_state(layer) -> dict:
    from .restore import layer_weights

    return {k: v.numpy() for k, v in layer_weights(layer).items() if k not in ("gamma", "beta")}


def run_batch_norm(layer, x, training):
    """One call of a replacement BatchNormalization: (outputs, statistics after the call)."""
    import tensorflow as tf

    y = layer(tf.constant(np.asarray(x, np.float32)), training=training)
    return y.numpy(), _bn_state(layer)


# ----------------------------------------------------------------------------------------------
# the NumPy reference
# ----------------------------------------------------------------------------------------------

_REF_STATE = {"biased": "moving_mean_biased", "local_step": "moving_mean_local_step"}


def reference_cell(values, config, inputs, lengths, initial_state):
    from tf2norm import reference

    weights = {}
    for key, value in values.items():
        if key in ("kernel", "bias"):
            weights[key] = value
        else:
            gate, part = key.rsplit("_", 1)
            weights[f"{gate}/{part}"] = value
    return reference.ln_lstm_sequence(inputs, weights, forget_bias=config["forget_bias"],
                                      layer_norm=config["layer_norm"], sequence_length=lengths,
                                      initial_state=initial_state)


def reference_batch_norm(values, config, x, training):
    from tf2norm import reference

    rank = np.ndim(x)
    renorm = bool(config.get("renorm"))
    zero_debias = bool(config.get("zero_debias_moving_mean"))
    fused = reference.contrib_uses_fused(rank, config.get("fused"), renorm)
    y, state = reference.batch_norm(
        x, axis=config["axis"], training=training,
        beta=values.get("beta"), gamma=values.get("gamma"),
        moving_mean=values["moving_mean"], moving_variance=values["moving_variance"],
        epsilon=config["epsilon"], decay=config["momentum"], fused=fused,
        zero_debias_state=({"biased": values["moving_mean_biased"],
                            "local_step": values["moving_mean_local_step"]} if zero_debias else None),
        renorm_state=({k: values[k] for k in ("moving_stddev", "renorm_mean", "renorm_stddev")}
                      if renorm else None),
        renorm_clipping=config.get("renorm_clipping"),
        renorm_decay=config.get("renorm_momentum", 0.99),
        decay_in_float32=reference.contrib_decay_in_float32(
            rank, config.get("fused"), renorm, zero_debias_moving_mean=zero_debias),
    )
    return y, {_REF_STATE.get(k, k): v for k, v in state.items()}


# ----------------------------------------------------------------------------------------------
# one group
# ----------------------------------------------------------------------------------------------


def _random_cell_case(rng, depth, units):
    x = rng.standard_normal((RANDOM_BATCH, RANDOM_STEPS, depth)).astype(np.float32)
    init = tuple((0.5 * rng.standard_normal((RANDOM_BATCH, units))).astype(np.float32)
                 for _ in range(2))
    return x, np.array(RANDOM_LENGTHS, np.int32), init


def _random_bn_input(rng, values, axis, rank):
    channels = values["moving_mean"].shape[0]
    shape = [4] + [3] * (rank - 2) + [channels] if rank > 2 else [16, channels]
    if axis == 1 and rank > 2:
        shape = [4, channels] + [3] * (rank - 2)
    bshape = [1] * rank
    bshape[axis] = channels
    mean = values["moving_mean"].reshape(bshape)
    std = np.sqrt(np.maximum(values["moving_variance"], 0.0)).reshape(bshape) + 0.1
    return (mean + std * rng.standard_normal(shape)).astype(np.float32)


def _verify_cell(layer_factory, values, config, compare, fields, rng):
    if fields is not None:
        x = fields["inputs"]
        lengths = fields.get("sequence_length")
        init = None
        if "initial_c" in fields or "initial_h" in fields:
            units = config["num_units"]
            zero = np.zeros((x.shape[0], units), np.float32)
            init = (fields.get("initial_c", zero), fields.get("initial_h", zero))
        want = (fields["outputs"], (fields["final_c"], fields["final_h"]))
    else:
        x, lengths, init = _random_cell_case(rng, values["kernel"].shape[0] - config["num_units"],
                                             config["num_units"])
        want = reference_cell(values, config, x, lengths, init)
    depth = values["kernel"].shape[0] - config["num_units"]
    if x.shape[-1] != depth:
        compare.mismatch(f"inputs have depth {x.shape[-1]}, the kernel expects {depth}")
        return
    layer = layer_factory([None, x.shape[-1]])
    got = run_cell(layer, x, lengths, init)
    compare("outputs", got[0], want[0])
    compare("final c", got[1][0], want[1][0])
    compare("final h", got[1][1], want[1][1])


def _verify_bn(layer_factory, values, config, compare, fields, rng, rank):
    axis = config["axis"]
    passes = []
    if fields is not None:
        for p, training in (("infer", False), ("train", True)):
            if f"{p}_inputs" in fields:
                x = fields[f"{p}_inputs"]
                state = {k[len("train_"):]: v for k, v in fields.items()
                         if training and k.startswith("train_") and k not in
                         ("train_inputs", "train_outputs")}
                passes.append((p, training, x, fields[f"{p}_outputs"], state))
    else:
        for p, training in (("infer", False), ("train", True)):
            x = _random_bn_input(rng, values, axis, rank)
            y, state = reference_batch_norm(values, config, x, training)
            passes.append((p, training, x, y, state if training else {}))
    channels = values["moving_mean"].shape[0]
    for p, training, x, y_want, state_want in passes:
        if np.shape(x)[axis] != channels:
            compare.mismatch(f"{p} inputs {list(np.shape(x))} have {np.shape(x)[axis]} channels on "
                             f"axis {axis}, the group {channels}: wrong data format?")
            return
        layer = layer_factory(list(np.shape(x)))
        y, state = run_batch_norm(layer, x, training)
        compare(f"{p} outputs", y, y_want)
        for key, want in state_want.items():
            if key not in state:
                raise CheckpointError(f"expected values for {key}, which the replacement layer "
                                      "does not have")
            compare(f"{key} after training", state[key], want)


# ----------------------------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------------------------


def verify(checkpoint, *, converted=None, golden=None, atol=1e-5, rtol=0.0, seed=0,
           data_formats=(), settings=()) -> list:
    """Verify every group of ``checkpoint``; returns one :class:`Result` per group.

    The replacement's configuration comes from the converted directory's manifest when
    ``converted`` is given; otherwise from the checkpoint, then what the golden file records about
    the TF1 call (forget_bias, epsilon, decay, fused, data format), then ``data_formats`` and
    ``settings`` (the CLI's --data-format / --config). Raises CheckpointError for bad input.
    """
    from .convert import checked_inventory
    from .reader import Tf1Checkpoint

    if converted is not None and (data_formats or settings):
        raise CheckpointError("--data-format and --config configure the groups of a TF1 "
                              "checkpoint; a converted directory records its own configuration")
    ckpt = Tf1Checkpoint(checkpoint)
    inv = checked_inventory(ckpt)
    goldens = gd.load(golden) if golden is not None else {}
    scopes = {g.scope: g for g in inv.groups}
    for scope, fields in goldens.items():
        if scope not in scopes:
            raise CheckpointError(f"golden file {golden} has values for {scope}, which is not a "
                                  f"group of {ckpt.path}")
        gd.check(scope, scopes[scope].kind, fields, golden)
        extra, fmt = gd.config_from(scopes[scope].kind, fields)
        scopes[scope].config.update(extra)
        if fmt:
            scopes[scope].data_format = fmt
            scopes[scope].config["axis"] = parse_data_format(fmt)[0]
    mf.apply_options(inv, data_formats, settings)

    manifest = mf.read(converted) if converted is not None else None
    if manifest is None:
        return [_verify_group(g, ckpt, g.config, g.data_format, None, None, goldens, atol, rtol,
                              seed) for g in inv.groups]
    from .restore import _open_weights

    with _open_weights(manifest) as h5:
        results = []
        for g in inv.groups:
            entry = mf.find(manifest, g.scope)
            if entry["kind"] != g.kind:
                raise CheckpointError(f"{converted}: {g.scope} is a {entry['kind']} group there, "
                                      f"a {g.kind} group in {ckpt.path}")
            results.append(_verify_group(g, ckpt, dict(entry["config"]), entry.get("data_format"),
                                         entry, h5, goldens, atol, rtol, seed))
        return results


def _verify_group(group, ckpt, config, data_format, entry, h5, goldens, atol, rtol, seed):
    from .restore import _check_and_assign, build_layer, layer_name, load_converted_group

    fields = goldens.get(group.scope)
    values = {k: ckpt.read(n) for k, n in group.weights.items()}

    def factory(input_shape):
        layer = build_layer(group.kind, config, input_shape, name=layer_name(group.scope))
        if entry is not None:
            load_converted_group(layer, entry, h5)
        else:
            _check_and_assign(layer, {k: v.shape for k, v in values.items()}, values.__getitem__,
                              f"TF1 group {group.scope}")
        return layer

    compare = _Compare(atol, rtol)
    rng = np.random.default_rng(seed)
    if group.kind == LSTM_CELL:
        _verify_cell(factory, values, config, compare, fields, rng)
    else:
        rank = parse_data_format(data_format or "NHWC")[1]
        _verify_bn(factory, values, config, compare, fields, rng, rank)
    return Result(group.scope, group.kind, "TF1 golden" if fields is not None else "NumPy reference",
                  compare.max_abs, compare.max_rel, compare.passed, compare.worst)


def format_table(results, atol, rtol) -> str:
    header = ("group", "kind", "against", "max abs err", "max rel err", "result")
    rows = [(r.scope, r.kind, r.against, f"{r.max_abs:.3g}", f"{r.max_rel:.3g}",
             "pass" if r.passed else f"FAIL ({r.worst})") for r in results]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip()
             for row in [header] + rows]
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(results)} groups: {len(results) - failed} pass, {failed} fail "
                 f"(atol {atol:g}, rtol {rtol:g})")
    return "\n".join(lines)
