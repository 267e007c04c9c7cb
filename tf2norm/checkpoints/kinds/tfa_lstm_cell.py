"""``tfa.rnn.LayerNormLSTMCell`` groups (tensorflow-addons, Keras 2) -> ``tf2norm.replacements.LayerNormLSTMCell``.

tfa models were saved by Keras 2. ``model.save_weights(prefix)`` (TF format) writes an object-based
checkpoint: each weight is named by the object path to it, ``S/kernel/.ATTRIBUTES/VARIABLE_VALUE``,
with ``S`` the cell's path, e.g. ``layer_with_weights-0/cell`` (``keras.layers.RNN(cell)``) or
``layer_with_weights-1/forward_layer/cell`` (``Bidirectional``); nested models add components.
A Keras 2 model saved by a name-based ``tf.compat.v1.train.Saver`` (or an Estimator) has the Keras
variable names instead, ``rnn/layer_norm_lstm_cell/kernel``. Both are recognised, by the cell's
members (names relative to ``S``; the replacement weight is the same path):

=========================================  ==============  =================================
member                                     shape           note
=========================================  ==============  =================================
``kernel``                                 ``[D, 4H]``     gate order i, f, c, o
``recurrent_kernel``                       ``[H, 4H]``
``bias``                                   ``[4H]``        only with use_bias
``kernel_norm/gamma``, ``.../beta``        ``[4H]``        the three norm sublayers mark the
``recurrent_norm/gamma``, ``.../beta``     ``[4H]``        cell as tfa's (a plain LSTMCell
``state_norm/gamma``, ``.../beta``         ``[H]``         has none); all six are required
=========================================  ==============  =================================

Optimizer state (``optimizer/_variables/N``, ``.OPTIMIZER_SLOT``) and the object graph are not
converted. Not recorded: ``norm_epsilon`` (default tfa's 1e-3), the activations; give them with
``--config S:norm_epsilon=1e-5``. A Keras 2 ``.h5`` weights file needs no conversion: Keras 3's
``model.load_weights("weights.h5")`` loads it into the migrated model (the cells keep tfa's weight
order; tested on a real tfa file).

Golden fields (``keras.layers.RNN(cell, return_sequences=True, return_state=True)``; keys ``S:<field>``):

==================  =========  ============================================================
inputs              yes        float32 ``[B, T, D]``
outputs             yes        float32 ``[B, T, H]`` (a masked step repeats the last output)
final_h, final_c    no         float32 ``[B, H]``
mask                no         bool ``[B, T]``
initial_h/initial_c no         float32 ``[B, H]`` (default zeros)
norm_epsilon        no         scalar: the cell's constructor argument
==================  =========  ============================================================

This module also holds what the ``tfa_simple_rnn_cell`` kind shares with it.
"""

from __future__ import annotations

import numpy as np

from ..naming import Group, shape_text
from . import _cell

ID = "tfa_lstm_cell"
TITLE = "tfa LayerNormLSTMCell"
REPLACEMENT = "tf2norm.replacements.LayerNormLSTMCell"
# Before group_norm (70), which would take a norm sublayer's lone gamma/beta for a candidate.
PRIORITY = 20
SETTABLE = ("norm_epsilon", "activation", "recurrent_activation", "dropout", "recurrent_dropout")
CELL = True
DATA_FORMAT = False
# What `--source FILE` reads (see checkpoints/source.py): the calls that make this kind's groups, legacy
# and migrated (`rewriters.<id>.<ATTRIBUTE>`: a rewriter's set of legacy names), their positional
# parameters, which argument is which setting, the arguments that name the scope, and the settings
# the call itself implies.
SOURCE = (
    (("tensorflow_addons.rnn.LayerNormLSTMCell", "tensorflow_addons.rnn.layer_norm_lstm_cell.LayerNormLSTMCell",
      "tensorflow_addons.rnn.cell.LayerNormLSTMCell", "tf2norm.replacements.LayerNormLSTMCell"),
     ("units", "activation", "recurrent_activation"),
     {"norm_epsilon": "norm_epsilon", "activation": "activation", "recurrent_activation": "recurrent_activation",
      "dropout": "dropout", "recurrent_dropout": "recurrent_dropout"}, (), {}),
)

DEFAULTS = {"norm_epsilon": 0.001}
NORMS = ("kernel_norm", "recurrent_norm", "state_norm")
MEMBERS = ("kernel", "recurrent_kernel", "bias") + tuple(f"{n}/{p}" for n in NORMS for p in ("gamma", "beta"))

GOLDEN_FIELDS = ("inputs", "outputs", "final_h", "final_c", "mask", "initial_h", "initial_c", "norm_epsilon")

VALUE = "/.ATTRIBUTES/VARIABLE_VALUE"
OBJECT_NAMING = "Keras 2 object-based (model.save_weights, TF format)"
NAME_NAMING = "Keras 2 variable names (name-based Saver)"

RANDOM_BATCH = 3
RANDOM_STEPS = 7
RANDOM_LENGTHS = (7, 4, 1)


# ----------------------------------------------------------------------------------------------
# recognition (shared with tfa_simple_rnn_cell)
# ----------------------------------------------------------------------------------------------


def scopes_with(table, claimed, members, aliases=None):
    """``{(scope, naming): {member: variable name}}`` for every scope holding a ``kernel``.

    A variable ``S/<path>`` (object-based: ``S/<path>/.ATTRIBUTES/VARIABLE_VALUE``) is member
    ``aliases.get(path, path)`` of scope ``S`` when that is one of ``members``; names already
    claimed and optimizer slots are skipped. Object-based and name-based variables never mix.
    """
    aliases = aliases or {}
    paths = {aliases.get(m, m): m for m in members}
    found: dict = {}
    for name in table:
        if name in claimed or "/.OPTIMIZER_SLOT/" in name:
            continue
        naming, base = (OBJECT_NAMING, name[: -len(VALUE)]) if name.endswith(VALUE) else (NAME_NAMING, name)
        for path, member in paths.items():
            if base.endswith("/" + path):
                found.setdefault((base[: -len(path) - 1], naming), {})[member] = name
                break
    return {key: group for key, group in found.items() if "kernel" in group}


def check_shapes(group, table, expected, title):
    """Add a problem to ``group`` for each member whose shape is not ``expected[member]``."""
    for key, shape in expected.items():
        name = group.weights.get(key)
        if name is not None and table[name].shape != shape:
            group.problems.append(f"inconsistent {title} group {group.scope}: {name} has shape "
                                  f"{shape_text(table[name].shape)}, expected {shape_text(shape)}")


def recognise(table, claimed) -> list:
    groups = []
    for (scope, naming), members in scopes_with(table, claimed, MEMBERS).items():
        norms = [m for m in members if "_norm/" in m]
        if not norms or "recurrent_kernel" not in members:
            continue  # a Dense layer, a plain LSTMCell: not tfa's cell
        weights = {m: members[m] for m in MEMBERS if m in members}
        group = Group(scope=scope, kind=ID, weights=weights, naming=naming,
                      config={"units": None, "use_bias": "bias" in weights, **DEFAULTS})
        claimed.update(weights.values())
        groups.append(group)
        missing = [m for m in MEMBERS[3:] if m not in weights]
        if missing:
            group.problems.append(f"inconsistent {TITLE} group {scope}: layer norm variables missing: "
                                  f"{', '.join(missing)}")
        recurrent = table[weights["recurrent_kernel"]].shape
        kernel = table[weights["kernel"]].shape
        if len(recurrent) != 2 or recurrent[1] != 4 * recurrent[0] or recurrent[0] == 0 or len(kernel) != 2:
            group.problems.append(f"inconsistent {TITLE} group {scope}: recurrent_kernel has shape "
                                  f"{shape_text(recurrent)}, kernel {shape_text(kernel)}; expected "
                                  "[units, 4 * units] and [input_depth, 4 * units]")
            continue
        units = recurrent[0]
        group.config["units"] = units
        group.input_depth = kernel[0]
        expected = {"kernel": (kernel[0], 4 * units), "bias": (4 * units,)}
        expected.update({f"{n}/{p}": ((units,) if n == "state_norm" else (4 * units,))
                         for n in NORMS for p in ("gamma", "beta")})
        check_shapes(group, table, expected, TITLE)
    return groups


def describe(group) -> str:
    c = group.config
    return (f"units={c['units']} input_depth={group.input_depth} use_bias={c['use_bias']} "
            f"norm_epsilon={c['norm_epsilon']}")


details = _cell.details
build_input_shape = _cell.build_input_shape


def layer_weights(layer) -> dict:
    """{member path: variable}: the norm sublayers' weights are all called gamma and beta."""
    weights = {"kernel": layer.kernel, "recurrent_kernel": layer.recurrent_kernel}
    if layer.use_bias:
        weights["bias"] = layer.bias
    for norm in NORMS:
        weights[f"{norm}/gamma"] = getattr(layer, norm).gamma
        weights[f"{norm}/beta"] = getattr(layer, norm).beta
    return weights


# ----------------------------------------------------------------------------------------------
# golden files
# ----------------------------------------------------------------------------------------------


def check_golden(scope, fields, path) -> None:
    _cell.require(scope, fields, path, ("inputs", "outputs"))


def config_from_golden(fields):
    return ({"norm_epsilon": float(fields["norm_epsilon"])} if "norm_epsilon" in fields else {}), None


# ----------------------------------------------------------------------------------------------
# verification (shared with tfa_simple_rnn_cell)
# ----------------------------------------------------------------------------------------------


def run_keras_rnn(cell, inputs, mask=None, initial_state=None):
    """``keras.layers.RNN(cell, return_sequences=True, return_state=True)``: [outputs, *final states]."""
    import keras
    import tensorflow as tf

    kwargs = {"training": False}
    if mask is not None:
        kwargs["mask"] = tf.constant(np.asarray(mask, bool))
    if initial_state is not None:
        kwargs["initial_state"] = [tf.constant(np.asarray(s, np.float32)) for s in initial_state]
    results = keras.layers.RNN(cell, return_sequences=True, return_state=True)(
        tf.constant(np.asarray(inputs, np.float32)), **kwargs)
    return [np.asarray(r) for r in results]


def random_case(rng, depth, units, n_states):
    """Seeded inputs ``[3, 7, depth]``, a mask of lengths 7, 4, 1 and a random initial state."""
    x = rng.standard_normal((RANDOM_BATCH, RANDOM_STEPS, depth)).astype(np.float32)
    mask = np.arange(RANDOM_STEPS)[None, :] < np.array(RANDOM_LENGTHS)[:, None]
    init = [(0.5 * rng.standard_normal((RANDOM_BATCH, units))).astype(np.float32) for _ in range(n_states)]
    return x, mask, init


def verify_cell(factory, fields, rng, compare, *, depth, units, states, reference):
    """Run the loaded cell on the golden ``fields`` or on a seeded random case against ``reference``.

    ``states``: the final-state field names in Keras' state order; ``reference(x, mask, init)``
    returns ``(outputs, final states)``.
    """
    if fields is not None:
        x, mask = fields["inputs"], fields.get("mask")
        init = None
        if any("initial_" + s[len("final_"):] in fields for s in states):
            zero = np.zeros((np.shape(x)[0], units), np.float32)
            init = [fields.get("initial_" + s[len("final_"):], zero) for s in states]
        want = [fields["outputs"]] + [fields.get(s) for s in states]
    else:
        x, mask, init = random_case(rng, depth, units, len(states))
        outputs, final = reference(x, mask, init)
        want = [outputs, *final]
    if np.ndim(x) != 3 or np.shape(x)[-1] != depth:
        compare.mismatch(f"inputs have shape {list(np.shape(x))}, the kernel expects [batch, time, {depth}]")
        return
    got = run_keras_rnn(factory([None, depth]), x, mask, init)
    for what, g, w in zip(["outputs"] + [s.replace("_", " ") for s in states], got, want):
        if w is not None:
            compare(what, g, w)


def verify(factory, values, config, compare, fields, rng, group) -> None:
    """A batch of masked sequences from a random state (or the golden's), through keras.layers.RNN."""
    from tf2norm import reference

    units = config["units"]
    kw = {"norm_epsilon": config["norm_epsilon"], "activation": config.get("activation", "tanh"),
          "recurrent_activation": config.get("recurrent_activation", "sigmoid")}

    def numpy_cell(x, mask, init):
        return reference.keras_rnn(lambda xt, s: reference.tfa_ln_lstm_step(xt, s, values, **kw), x, init, mask=mask)

    verify_cell(factory, fields, rng, compare, depth=values["kernel"].shape[0], units=units,
                states=("final_h", "final_c"), reference=numpy_cell)
