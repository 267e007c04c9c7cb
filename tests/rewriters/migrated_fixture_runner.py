"""Builds and runs one training step of each given fixture in its own tf.compat.v1 graph.

Run as a script by tests/test_migrated_fixtures.py with the project's Python (TF 2.21, Keras 3), and
usable with TF 1.15 (`.tf1/bin/python`) to check that the unmigrated fixtures are real TF1 code:

    python tests/rewriters/migrated_fixture_runner.py [--slim-standin NAME,...] FILE...

Prints one JSON object: {fixture name: {"ok", "error", "variables": {name: shape}}}, the global
variables after one training step (model variables and optimizer slots).
Kept Python 3.7 compatible for the TF 1.15 check.
"""
import argparse
import contextlib
import importlib.util
import json
import os
import sys
import traceback
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.pop("TF_USE_LEGACY_KERAS", None)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def slim_standin():
    """The slim layers that are not tf2norm's business (conv2d, fully_connected, arg_scope, ...).

    They stay `tf.contrib.slim` after migration and do not exist on TF 2.x; this stand-in calls
    normalizer_fn(outputs, **normalizer_params) inside the layer's variable scope exactly as slim
    did, so the fixture checks what tf2norm rewrote: the normalizer and its parameters.
    """
    defaults = {}

    @contextlib.contextmanager
    def arg_scope(ops, **kwargs):
        saved = {op: defaults.get(op, {}) for op in ops}
        for op in ops:
            defaults[op] = dict(defaults.get(op, {}), **kwargs)
        try:
            yield
        finally:
            defaults.update(saved)

    def with_arg_scope(function):
        def layer(*args, **kwargs):
            merged = dict(defaults.get(layer, {}))
            merged.update(kwargs)
            return function(*args, **merged)
        return layer

    def finish(outputs, num_outputs, activation_fn, normalizer_fn, normalizer_params):
        if normalizer_fn is not None:
            outputs = normalizer_fn(outputs, **(normalizer_params or {}))
        else:
            outputs += tf.compat.v1.get_variable('biases', [num_outputs], initializer=tf.compat.v1.zeros_initializer())
        return activation_fn(outputs) if activation_fn is not None else outputs

    @with_arg_scope
    def conv2d(inputs, num_outputs, kernel_size, stride=1, padding='SAME', activation_fn=tf.nn.relu,
               normalizer_fn=None, normalizer_params=None, scope=None):
        with tf.compat.v1.variable_scope(scope, default_name='Conv'):
            kernel = tf.compat.v1.get_variable('weights', list(kernel_size) + [int(inputs.shape[-1]), num_outputs])
            outputs = tf.nn.conv2d(inputs, kernel, [1, stride, stride, 1], padding)
            return finish(outputs, num_outputs, activation_fn, normalizer_fn, normalizer_params)

    @with_arg_scope
    def fully_connected(inputs, num_outputs, activation_fn=tf.nn.relu, normalizer_fn=None, normalizer_params=None,
                        scope=None):
        with tf.compat.v1.variable_scope(scope, default_name='fully_connected'):
            weights = tf.compat.v1.get_variable('weights', [int(inputs.shape[-1]), num_outputs])
            outputs = tf.matmul(inputs, weights)
            return finish(outputs, num_outputs, activation_fn, normalizer_fn, normalizer_params)

    def max_pool2d(inputs, kernel_size, stride=2, padding='VALID', scope=None):
        return tf.nn.max_pool2d(inputs, kernel_size, stride, padding, name=scope)

    def flatten(inputs, scope=None):
        return tf.reshape(inputs, [-1, int(np.prod(inputs.shape[1:]))], name=scope)

    return types.SimpleNamespace(arg_scope=arg_scope, conv2d=conv2d, fully_connected=fully_connected,
                                 max_pool2d=max_pool2d, flatten=flatten)


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
    parser.add_argument('--slim-standin', default='')
    parser.add_argument('files', nargs='+')
    args = parser.parse_args()
    standin = set(filter(None, args.slim_standin.split(',')))
    results = {}
    for path in args.files:
        name = os.path.splitext(os.path.basename(path))[0]
        if name in standin:
            tf.contrib = types.SimpleNamespace(slim=slim_standin())
        try:
            results[name] = build_and_run(path)
        except Exception:
            results[name] = {'ok': False, 'error': traceback.format_exc()[-3000:]}
        finally:
            if name in standin:
                del tf.contrib
    print(json.dumps(results))


if __name__ == '__main__':
    sys.exit(main())
