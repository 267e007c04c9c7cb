"""Item 1: LN-LSTM training step and inference, tf2norm's layer vs what users would otherwise run.

Candidates, all float32 on the CPU, `return_sequences=True`, loss `mean(outputs**2)`:

* `tf2norm`: `tf2norm.replacements.LayerNormBasicLSTM`;
* `keras LSTM`: `keras.layers.LSTM` (no layer norm): the speed users have today;
* `RNN(cell)`: `keras.layers.RNN` over tf2norm's per-step `LayerNormBasicLSTMCell` (TF1's math
  written the straightforward way): the only TF2 way to run this cell before the layer.

Each is timed with its step in `tf.function` two ways: plain graph, and XLA
(`jit_compile=True`, what `model.fit` picks by default on CPU for these layers). A training step
is forward, backward and an SGD update of every weight; inference is the forward pass with
`training=False`. The ratios compare each candidate in its faster mode.

Targets (issue 15): a training step at most 1.2x keras.layers.LSTM's and at least 2x faster than
RNN(cell); inference at most 1.15x keras.layers.LSTM's (its speed-up over RNN(cell) is printed
without a target).
"""

from __future__ import annotations

import time

from benchmarks._harness import format_table, log, time_side_by_side, verdict

CONFIGS = [
    dict(B=32, T=50, D=64, H=128),
    dict(B=64, T=200, D=128, H=256),
]
MODES = ("graph", "xla")
# tf2norm's time at most this times keras.layers.LSTM's, per phase
TARGET_VS_LSTM = {"train step": 1.2, "inference": 1.15}
TARGET_VS_CELL = {"train step": 2.0}  # and at least this many times faster than RNN(cell)


def _candidates(H):
    import keras

    from tf2norm.replacements import LayerNormBasicLSTMCell
    from tf2norm.replacements.layer_norm_basic_lstm import LayerNormBasicLSTM

    return {
        "tf2norm": lambda: LayerNormBasicLSTM(H, return_sequences=True),
        "keras LSTM": lambda: keras.layers.LSTM(H, return_sequences=True),
        "RNN(cell)": lambda: keras.layers.RNN(LayerNormBasicLSTMCell(H), return_sequences=True),
    }


def _steps(make_layer, x, mode):
    """(train_step, infer) zero-argument callables for one fresh layer, compiled and warmed up."""
    import keras
    import numpy as np
    import tensorflow as tf

    layer = make_layer()
    layer.build(x.shape)
    variables = layer.trainable_variables
    optimizer = keras.optimizers.SGD(learning_rate=1e-3)
    optimizer.build(variables)
    jit = mode == "xla"

    @tf.function(jit_compile=jit)
    def train(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(layer(x, training=True)))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    @tf.function(jit_compile=jit)
    def infer(x):
        return layer(x, training=False)

    # .numpy() waits for the result (XLA and async execution otherwise return early).
    return (lambda: train(x).numpy()), (lambda: np.asarray(infer(x)))


def run(quick: bool = False) -> tuple[str, list]:
    import numpy as np
    import tensorflow as tf

    rounds = 3 if quick else 9  # 9: medians steady to a few % on an idle 2-CPU machine
    configs = CONFIGS[:1] if quick else CONFIGS
    rows, detail_rows, findings = [], [], []
    for cfg in configs:
        B, T, D, H = cfg["B"], cfg["T"], cfg["D"], cfg["H"]
        label = f"B={B} T={T} D={D} H={H}"
        x = tf.constant(np.random.default_rng(0).normal(size=(B, T, D)).astype("float32"))
        train, infer, compile_s = {}, {}, {}
        for name, make in _candidates(H).items():
            for mode in MODES:
                log(f"  lstm {label}: compiling {name} ({mode})")
                start = time.perf_counter()
                t, i = _steps(make, x, mode)
                t()
                i()
                compile_s[(name, mode)] = time.perf_counter() - start
                train[(name, mode)], infer[(name, mode)] = t, i
        for phase, fns in (("train step", train), ("inference", infer)):
            log(f"  lstm {label}: timing {phase}")
            timings = time_side_by_side(fns, rounds=rounds)
            best = {}
            for name in _candidates(H):
                mode = min(MODES, key=lambda m: timings[(name, m)].median)
                best[name] = (timings[(name, mode)].median, mode)
                detail_rows.append(
                    [label, phase, name]
                    + [f"{timings[(name, m)].median * 1e3:.2f} ±{timings[(name, m)].spread:.0%}" for m in MODES]
                    + [f"{compile_s[(name, 'graph')]:.1f} / {compile_s[(name, 'xla')]:.1f}"]
                )
            ours, lstm, cell = best["tf2norm"], best["keras LSTM"], best["RNN(cell)"]
            vs_lstm, vs_cell = ours[0] / lstm[0], cell[0] / ours[0]
            lstm_target, cell_target = TARGET_VS_LSTM[phase], TARGET_VS_CELL.get(phase)
            rows.append(
                [
                    label,
                    phase,
                    f"{ours[0] * 1e3:.2f} ({ours[1]})",
                    f"{lstm[0] * 1e3:.2f} ({lstm[1]})",
                    f"{cell[0] * 1e3:.2f} ({cell[1]})",
                    f"{vs_lstm:.2f}x",
                    f"<= {lstm_target}x " + verdict(vs_lstm, lstm_target, at_most=True),
                    f"{vs_cell:.2f}x",
                    "-" if cell_target is None
                    else f">= {cell_target}x " + verdict(vs_cell, cell_target, at_most=False),
                ]
            )
            findings.append((f"LN-LSTM {phase} {label}: vs keras LSTM", vs_lstm, f"<= {lstm_target}"))
            if cell_target is not None:
                findings.append((f"LN-LSTM {phase} {label}: speed-up over RNN(cell)", vs_cell, f">= {cell_target}"))
    table = format_table(
        ["shape", "phase", "tf2norm ms", "keras LSTM ms", "RNN(cell) ms", "vs LSTM", "target", "faster than cell",
         "target"],
        rows,
    )
    detail = format_table(
        ["shape", "phase", "candidate", "graph ms", "xla ms", "first call s (graph / xla)"], detail_rows
    )
    text = (
        "1. LN-LSTM, float32, CPU: median ms per step, each candidate in its faster mode\n"
        + table
        + "\n\n   all modes (median ms, ± half inter-quartile range):\n"
        + detail
    )
    return text, findings
