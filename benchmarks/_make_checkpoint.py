"""Write a synthetic TF1 checkpoint of about 1 GB with TF1's own variable names (tf.compat.v1 Saver).

A two-layer `MultiRNNCell` of LayerNormBasicLSTMCell (input depth 2048, 4096 units: kernels
[6144, 16384] and [8192, 16384], 0.94 GB together) and one contrib batch_norm, under the scopes
TF1 gave them, so `tf2norm checkpoint convert` recognises every group.

    python -m benchmarks._make_checkpoint PREFIX [--scale S]

`--scale` divides the unit count (for a quick run). Prints one JSON line: bytes, largest tensor.
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("prefix")
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    import numpy as np
    import tensorflow as tf

    depth, units = 2048 // args.scale, 4096 // args.scale
    shapes = {}
    for k, d in enumerate((depth, units)):
        scope = f"rnn/multi_rnn_cell/cell_{k}/layer_norm_basic_lstm_cell"
        shapes[f"{scope}/kernel"] = (d + units, 4 * units)
        for norm in ("input", "transform", "forget", "output", "state"):
            shapes[f"{scope}/{norm}/gamma"] = (units,)
            shapes[f"{scope}/{norm}/beta"] = (units,)
    for name in ("beta", "moving_mean", "moving_variance"):
        shapes[f"BatchNorm/{name}"] = (units,)

    graph = tf.Graph()
    with graph.as_default():
        variables = []
        for name, shape in shapes.items():
            init = tf.compat.v1.random_uniform_initializer(-0.05, 0.05, seed=len(variables))
            variables.append(tf.compat.v1.get_variable(name, shape, tf.float32, initializer=init))
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, args.prefix, write_meta_graph=False)
    sizes = {name: int(np.prod(shape)) * 4 for name, shape in shapes.items()}
    print(json.dumps(dict(bytes=sum(sizes.values()), largest=max(sizes.values()),
                          largest_name=max(sizes, key=sizes.get))))


if __name__ == "__main__":
    main()
