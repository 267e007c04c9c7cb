"""Builds and runs one training step of each given fixture in its own tf.compat.v1 graph.

Run as a script by tests/test_migrated_fixtures.py with the project's Python (TF 2.21, Keras 3), and
usable with TF 1.15 (`.tf1/bin/python`) to check that the unmigrated fixtures are real TF1 code:

    python tests/rewriters/migrated_fixture_runner.py FILE...

Prints one JSON object: {fixture name: {"ok", "error", "variables": {name: shape}}}, the global
variables after one training step (model variables and optimizer slots).
Kept Python 3.7 compatible for the TF 1.15 check.
"""
import argparse
import importlib.util
import json
import os
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.pop("TF_USE_LEGACY_KERAS", None)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def feed_for(graph):
    """Values for every placeholder: ones for ints and bools, fixed random floats."""
    feed, rng = {}, np.random.RandomState(0)
    for op in graph.get_operations():
        if op.type != 'Placeholder':
            continue
        tensor = op.outputs[0]
        shape = [2 if d is None else d for d in tensor.shape.as_list()]
        dtype = tensor.dtype.as_numpy_dtype
        feed[tensor] = rng.randn(*shape).astype(dtype) if tensor.dtype.is_floating else np.ones(shape, dtype)
    return feed


def build_and_run(path):
    name = os.path.splitext(os.path.basename(path))[0]
    graph = tf.Graph()
    with graph.as_default():
        spec = importlib.util.spec_from_file_location('fixture_' + name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        built = module.build_graph()
        fetches = list(built['outputs']) + ([built['train_op']] if 'train_op' in built else [])
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            values = session.run(fetches, feed_dict=feed_for(graph))
        finite = all(np.all(np.isfinite(v)) for v in values[:len(built['outputs'])])
        variables = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
        return {'ok': bool(finite), 'error': None if finite else 'non-finite outputs', 'variables': variables}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('files', nargs='+')
    args = parser.parse_args()
    results = {}
    for path in args.files:
        name = os.path.splitext(os.path.basename(path))[0]
        try:
            results[name] = build_and_run(path)
        except Exception:
            results[name] = {'ok': False, 'error': traceback.format_exc()[-3000:]}
    print(json.dumps(results))


if __name__ == '__main__':
    sys.exit(main())
