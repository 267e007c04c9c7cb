"""Item 2: tf2norm's BatchNormalization vs keras.layers.BatchNormalization, NHWC 64x32x32x64.

Both layers get the same configuration (center and scale, momentum 0.99, epsilon 1e-3), so the
comparison is of the arithmetic, not of contrib's defaults (tf2norm's own default is scale=False,
which would do less work). Timed: a training-mode forward and backward (gradients of
`sum(y * w)` w.r.t. the input and gamma/beta, moving statistics updated, as a training step
does), and the inference forward, each in `tf.function`, plain graph and XLA. The ratio compares
each layer in its faster mode.
"""

from __future__ import annotations

import time

from benchmarks._harness import format_table, log, time_side_by_side, verdict

SHAPE = (64, 32, 32, 64)
MODES = ("graph", "xla")
TARGET = 1.1


def _candidates():
    import keras

    from tf2norm.replacements import BatchNormalization

    kwargs = dict(momentum=0.99, epsilon=1e-3, center=True, scale=True)
    return {
        "tf2norm": lambda: BatchNormalization(**kwargs),
        "keras": lambda: keras.layers.BatchNormalization(**kwargs),
    }


def _steps(make_layer, x, w, mode):
    import numpy as np
    import tensorflow as tf

    layer = make_layer()
    layer.build(x.shape)
    variables = layer.trainable_variables
    jit = mode == "xla"

    @tf.function(jit_compile=jit)
    def forward_backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True) * w)
        return tape.gradient(loss, [x] + variables)

    @tf.function(jit_compile=jit)
    def infer(x):
        return layer(x, training=False)

    return (lambda: [np.asarray(g) for g in forward_backward(x)]), (lambda: np.asarray(infer(x)))


def run(quick: bool = False) -> tuple[str, list]:
    import numpy as np
    import tensorflow as tf

    rounds = 3 if quick else 7
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(1.5, 2.0, size=SHAPE).astype("float32"))
    w = tf.constant(rng.normal(size=SHAPE).astype("float32"))
    train, infer, first = {}, {}, {}
    for name, make in _candidates().items():
        for mode in MODES:
            log(f"  batch_norm: compiling {name} ({mode})")
            start = time.perf_counter()
            t, i = _steps(make, x, w, mode)
            t()
            i()
            first[(name, mode)] = time.perf_counter() - start
            train[(name, mode)], infer[(name, mode)] = t, i
    rows, detail, findings = [], [], []
    for phase, fns in (("forward+backward", train), ("inference", infer)):
        log(f"  batch_norm: timing {phase}")
        timings = time_side_by_side(fns, rounds=rounds)
        best = {}
        for name in _candidates():
            mode = min(MODES, key=lambda m: timings[(name, m)].median)
            best[name] = (timings[(name, mode)].median, mode)
            detail.append(
                [phase, name]
                + [f"{timings[(name, m)].median * 1e3:.2f} ±{timings[(name, m)].spread:.0%}" for m in MODES]
            )
        ratio = best["tf2norm"][0] / best["keras"][0]
        rows.append(
            [
                phase,
                f"{best['tf2norm'][0] * 1e3:.2f} ({best['tf2norm'][1]})",
                f"{best['keras'][0] * 1e3:.2f} ({best['keras'][1]})",
                f"{ratio:.2f}x",
                verdict(ratio, TARGET, at_most=True),
            ]
        )
        findings.append((f"BatchNormalization {phase}: vs keras", ratio, f"<= {TARGET}"))
    text = (
        f"2. BatchNormalization, NHWC {'x'.join(map(str, SHAPE))} float32, CPU: median ms, "
        "each layer in its faster mode\n"
        + format_table(["phase", "tf2norm ms", "keras ms", "ratio", "<=1.1x"], rows)
        + "\n\n   all modes (median ms, ± half inter-quartile range):\n"
        + format_table(["phase", "layer", "graph ms", "xla ms"], detail)
    )
    return text, findings
