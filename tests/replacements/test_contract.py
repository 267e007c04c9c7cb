"""The contract every exported Keras layer and cell of tf2norm.replacements keeps (Keras' run_layer_test).

For each one: its config round-trips, a model holding it saves to `.keras` and loads with the same
weights and outputs, in a tf.compat.v1 graph a second call creates no variables, and a TF1 cell called
TF1's way (`cell(x, state)`) computes what Keras' call computes, under TF1's variable names. A new
layer or cell fails `test_every_exported_layer_has_a_recipe` until it has a recipe here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf2norm import replacements
from tf2norm.replacements._tf1_cell import Tf1RecurrentCell


@dataclasses.dataclass(frozen=True)
class Recipe:
    make: Callable[[], keras.layers.Layer]
    #: The input of one call, batch first (a cell: [batch, time, depth] for keras.layers.RNN).
    shape: tuple[int, ...]
    cell: bool = False


RECIPES = {
    "BatchNormalization": Recipe(lambda: replacements.BatchNormalization(scale=True, momentum=0.9), (2, 4, 4, 3)),
    "LayerNorm": Recipe(lambda: replacements.LayerNorm(), (2, 5, 3)),
    "GroupNormalization": Recipe(lambda: replacements.GroupNormalization(groups=2), (2, 6, 4)),
    "InstanceNormalization": Recipe(lambda: replacements.InstanceNormalization(), (2, 6, 4)),
    "LayerNormBasicLSTM": Recipe(lambda: replacements.LayerNormBasicLSTM(4, return_sequences=True), (2, 5, 3)),
    "LayerNormBasicLSTMCell": Recipe(lambda: replacements.LayerNormBasicLSTMCell(4), (2, 5, 3), cell=True),
    "LayerNormGRUCell": Recipe(lambda: replacements.LayerNormGRUCell(4), (2, 5, 3), cell=True),
    "BatchNormLSTMCell": Recipe(lambda: replacements.BatchNormLSTMCell(4, max_bn_steps=3), (2, 5, 3), cell=True),
    "LayerNormLSTMCell": Recipe(lambda: replacements.LayerNormLSTMCell(4), (2, 5, 3), cell=True),
    "LayerNormSimpleRNNCell": Recipe(lambda: replacements.LayerNormSimpleRNNCell(4), (2, 5, 3), cell=True),
    "BasicRNNCell": Recipe(lambda: replacements.BasicRNNCell(4, activation="relu"), (2, 5, 3), cell=True),
    "BasicLSTMCell": Recipe(lambda: replacements.BasicLSTMCell(4, forget_bias=0.5), (2, 5, 3), cell=True),
    "LSTMCell": Recipe(lambda: replacements.LSTMCell(4, use_peepholes=True, cell_clip=2.0, num_proj=3, proj_clip=1.0),
                       (2, 5, 3), cell=True),
    "GRUCell": Recipe(lambda: replacements.GRUCell(4), (2, 5, 3), cell=True),
    "LSTMBlockCell": Recipe(lambda: replacements.LSTMBlockCell(4, forget_bias=0.5, cell_clip=0.8, use_peephole=True),
                            (2, 5, 3), cell=True),
    "GRUBlockCell": Recipe(lambda: replacements.GRUBlockCell(4), (2, 5, 3), cell=True),
    "GRUBlockCellV2": Recipe(lambda: replacements.GRUBlockCellV2(cell_size=4), (2, 5, 3), cell=True),
    "CudnnCompatibleLSTMCell": Recipe(lambda: replacements.CudnnCompatibleLSTMCell(4), (2, 5, 3), cell=True),
    "CudnnCompatibleGRUCell": Recipe(lambda: replacements.CudnnCompatibleGRUCell(4), (2, 5, 3), cell=True),
}
# TF1's wrappers hold other cells and exist for TF1 code (dynamic_rnn), which saves with a Saver; they
# have no Keras config (tests/replacements/test_rnn_cell_wrappers.py covers them).
NOT_SAVED = {"MultiRNNCell", "DropoutWrapper", "ResidualWrapper", "DeviceWrapper"}


def _inputs(recipe: Recipe) -> np.ndarray:
    return np.random.default_rng(0).normal(1.0, 2.0, recipe.shape).astype(np.float32)


def _built(recipe: Recipe):
    """The layer (a cell inside keras.layers.RNN) in a model, called once."""
    layer = recipe.make()
    inner = keras.layers.RNN(layer, return_sequences=True) if recipe.cell else layer
    model = keras.Sequential([keras.Input(recipe.shape[1:]), inner])
    model(_inputs(recipe))
    return layer, model


def test_every_exported_layer_has_a_recipe():
    layers = {name for name in replacements.__all__
              if isinstance(getattr(replacements, name), type)
              and issubclass(getattr(replacements, name), keras.layers.Layer)}
    assert layers == set(RECIPES) | NOT_SAVED


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_config_round_trip(name):
    layer, _ = _built(RECIPES[name])
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert type(again) is type(layer) and again.get_config() == config


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_keras_file_keeps_weights_and_outputs(name, tmp_path):
    recipe = RECIPES[name]
    _, model = _built(recipe)
    for weight in model.weights:  # not the initial values: every weight is checked
        weight.assign(np.random.default_rng(1).normal(0.5, 0.1, weight.shape).astype(np.float32))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert [(w.name, w.shape) for w in loaded.weights] == [(w.name, w.shape) for w in model.weights]
    for a, b in zip(loaded.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    x = _inputs(recipe)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_a_second_graph_call_creates_no_variables(name):
    # In a tf.compat.v1 graph: a TF1 cell reused (an enclosing reuse=True scope), any layer called again.
    recipe = RECIPES[name]
    with tf.Graph().as_default():
        layer = recipe.make()
        x = tf.compat.v1.placeholder(tf.float32, recipe.shape)
        if isinstance(layer, Tf1RecurrentCell):
            def call():
                return tf.compat.v1.nn.dynamic_rnn(layer, x, dtype=tf.float32)
        else:
            inner = keras.layers.RNN(layer) if recipe.cell else layer

            def call():
                return inner(x)
        call()
        created = tf.compat.v1.global_variables()
        with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):
            call()
        assert created and tf.compat.v1.global_variables() == created


TF1_CELLS = sorted(n for n, r in RECIPES.items() if r.cell and issubclass(getattr(replacements, n), Tf1RecurrentCell))


@pytest.mark.parametrize("name", TF1_CELLS)
def test_a_tf1_cell_is_a_keras_cell_called_tf1s_way(name):
    recipe = RECIPES[name]
    cell = recipe.make()
    x = _inputs(recipe)[:, 0]
    keras_state = cell.get_initial_state(batch_size=x.shape[0])
    keras_output, keras_new = cell(x, keras_state, training=False)
    tf1_output, tf1_new = cell(x, cell.zero_state(x.shape[0], tf.float32))
    np.testing.assert_array_equal(np.asarray(tf1_output), np.asarray(keras_output))
    for a, b in zip(tf.nest.flatten(tf1_new), tf.nest.flatten(keras_new)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", TF1_CELLS)
def test_a_tf1_cell_makes_tf1s_variables_in_graphs(name):
    recipe = RECIPES[name]
    with tf.Graph().as_default():
        cell = recipe.make()
        tf.compat.v1.nn.dynamic_rnn(cell, tf.compat.v1.placeholder(tf.float32, recipe.shape), dtype=tf.float32)
        names = {v.op.name for v in tf.compat.v1.global_variables()}
    assert names == {f"rnn/{cell.TF1_SCOPE}/{weight}" for weight in cell.tf1_weights(recipe.shape[-1])}
