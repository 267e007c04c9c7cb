"""tfa_normalization: tfa.layers.GroupNormalization / InstanceNormalization -> keras.layers.GroupNormalization
or tf2norm.replacements.GroupNormalization / InstanceNormalization."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
from tf2norm.rewriters import tfa_normalization

ONLY = ("tfa_normalization",)


def _tfa_import(code: str) -> str:
    """The from-import of the aliases GN / IN that `code` uses."""
    names = [f"{cls} as {alias}" for cls, alias in (("GroupNormalization", "GN"), ("InstanceNormalization", "IN"))
             if f"{alias}(" in code]
    return f"from tensorflow_addons.layers import {', '.join(names)}\n"


# -- how it is reached: every spelling resolves to the same rewrite ------------------------------

SPELLINGS = [
    ("import tensorflow_addons as tfa\n", "tfa.layers.{cls}"),
    ("import tensorflow_addons\n", "tensorflow_addons.layers.{cls}"),
    ("import tensorflow_addons\n", "tensorflow_addons.layers.normalizations.{cls}"),
    ("import tensorflow_addons.layers\n", "tensorflow_addons.layers.{cls}"),
    ("from tensorflow_addons import layers\n", "layers.{cls}"),
    ("from tensorflow_addons import layers as tfal\n", "tfal.{cls}"),
    ("from tensorflow_addons.layers import {cls}\n", "{cls}"),
    ("from tensorflow_addons.layers import {cls} as Norm\n", "Norm"),
    ("from tensorflow_addons.layers.normalizations import {cls}\n", "{cls}"),
    ("import tensorflow_addons.layers.normalizations as norms\n", "norms.{cls}"),
    ("from tensorflow_addons.layers import normalizations\n", "normalizations.{cls}"),
    ("import tensorflow_addons as tfa\naddons = tfa\n", "addons.layers.{cls}"),
    ("import tensorflow_addons as tfa\ntfa_layers = tfa.layers\n", "tfa_layers.{cls}"),
]


@pytest.mark.parametrize("imports, spelling", SPELLINGS)
@pytest.mark.parametrize("cls, keras_call, compat_call", [
    ("GroupNormalization", "keras.layers.GroupNormalization(groups=4)", "GroupNormalization(groups=4)"),
    ("InstanceNormalization", "keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)",
     "InstanceNormalization(epsilon=1e-5)"),
])
def test_every_spelling_is_found(imports, spelling, cls, keras_call, compat_call):
    imports, spelling = imports.format(cls=cls), spelling.format(cls=cls)
    args = "epsilon=1e-5" if cls == "InstanceNormalization" else "groups=4"
    before = f"{imports}y = {spelling}({args})(x)\n"
    for target, emitted, new_import in (("keras", keras_call, "import keras\n"),
                                        ("compat", compat_call, f"from tf2norm.replacements import {cls}\n")):
        output, findings = migrate(before, target, ONLY)
        assert output == f"{new_import}\ny = {emitted}(x)\n"
        assert findings == []
        assert migrate(output, target, ONLY) == (output, [])


def test_tfa_import_still_used_elsewhere_stays():
    check(
        """\
        import tensorflow as tf
        import tensorflow_addons as tfa

        optimizer = tfa.optimizers.AdamW(weight_decay=1e-4)
        net = tfa.layers.GroupNormalization(groups=8)(net)
        """,
        """\
        import tensorflow as tf
        import tensorflow_addons as tfa
        import keras

        optimizer = tfa.optimizers.AdamW(weight_decay=1e-4)
        net = keras.layers.GroupNormalization(groups=8)(net)
        """,
        only=ONLY,
    )


def test_inside_a_keras_model():
    check(
        """\
        import tensorflow as tf
        import tensorflow_addons as tfa

        model = tf.keras.Sequential([
            tf.keras.layers.Conv2D(32, 3),
            tfa.layers.GroupNormalization(groups=8, axis=3),  # 4 channels a group
            tf.keras.layers.ReLU(),
            tfa.layers.InstanceNormalization(
                axis=3,
                center=True,
                scale=True,
                beta_initializer="random_uniform",
                gamma_initializer="random_uniform",
            ),
        ])
        """,
        """\
        import tensorflow as tf
        import keras

        model = tf.keras.Sequential([
            tf.keras.layers.Conv2D(32, 3),
            keras.layers.GroupNormalization(groups=8, axis=3),  # 4 channels a group
            tf.keras.layers.ReLU(),
            keras.layers.GroupNormalization(
                groups=-1,
                axis=3,
                center=True,
                scale=True,
                beta_initializer="random_uniform",
                gamma_initializer="random_uniform",
            ),
        ])
        """,
    )


# -- keras target: the arguments -----------------------------------------------------------------

KERAS_CASES = {
    "defaults are Keras' defaults": ("GN()", "keras.layers.GroupNormalization()"),
    "positional arguments keep their places (same order in Keras)": (
        "GN(8, 1, 1e-5, False, True)", "keras.layers.GroupNormalization(8, 1, 1e-5, False, True)"),
    "every tfa argument": (
        "GN(groups=2, axis=-1, epsilon=0.01, center=False, scale=True, beta_initializer='zeros', "
        "gamma_initializer=init, beta_regularizer=reg, gamma_regularizer='l2', beta_constraint=c, "
        "gamma_constraint=None)",
        "keras.layers.GroupNormalization(groups=2, axis=-1, epsilon=0.01, center=False, scale=True, "
        "beta_initializer='zeros', gamma_initializer=init, beta_regularizer=reg, gamma_regularizer='l2', "
        "beta_constraint=c, gamma_constraint=None)"),
    "base layer arguments Keras 3 takes": (
        "GN(4, name='gn', trainable=False, input_shape=(8, 8, 16), activity_regularizer=r, dtype='float32')",
        "keras.layers.GroupNormalization(4, name='gn', trainable=False, input_shape=(8, 8, 16), "
        "activity_regularizer=r, dtype='float32')"),
    "dtype None": ("GN(dtype=None)", "keras.layers.GroupNormalization(dtype=None)"),
    "Keras 2 arguments at their defaults are dropped": (
        "GN(4, batch_size=None, dynamic=False, weights=None, implementation=None, batch_input_shape=None)",
        "keras.layers.GroupNormalization(4)"),
    "a positive axis": ("GN(2, axis=2)", "keras.layers.GroupNormalization(2, axis=2)"),
    "groups -1 on the last axis": ("GN(groups=-1)", "keras.layers.GroupNormalization(groups=-1)"),
    "a variable groups": ("GN(groups=n)", "keras.layers.GroupNormalization(groups=n)"),
    "instance norm": ("IN()", "keras.layers.GroupNormalization(groups=-1)"),
    "instance norm arguments": (
        "IN(axis=1, epsilon=1e-5, center=False, scale=False, name='in')",
        "keras.layers.GroupNormalization(groups=-1, axis=1, epsilon=1e-5, center=False, scale=False, name='in')"),
    "parenthesised and nested": ("(GN(2)(IN()(x)))",
                                 "(keras.layers.GroupNormalization(2)(keras.layers.GroupNormalization(groups=-1)(x)))"),
}


@pytest.mark.parametrize("before, after", KERAS_CASES.values(), ids=KERAS_CASES.keys())
def test_keras_mapping(before, after):
    check(f"{_tfa_import(before)}\ny = {before}\n", f"import keras\n\ny = {after}\n", only=ONLY)


# Keras' numbers are not provably tfa's: tfa's own arithmetic, the arguments untouched.
REPLACEMENT_CASES = {
    "negative axis other than -1": ("GN(2, axis=-2)", "GroupNormalization(2, axis=-2)"),
    "axis from a variable": ("GN(groups=2, axis=channel_axis)", "GroupNormalization(groups=2, axis=channel_axis)"),
    "axis 0 (tfa raised, so does the replacement)": ("GN(axis=0)", "GroupNormalization(axis=0)"),
    "axis a list (tfa's typecheck raised)": ("GN(axis=[1, 2])", "GroupNormalization(axis=[1, 2])"),
    "axis True": ("GN(axis=True)", "GroupNormalization(axis=True)"),
    "mixed precision dtype": ("GN(4, dtype='mixed_float16')", "GroupNormalization(4, dtype='mixed_float16')"),
    "float16 dtype": ("IN(dtype='float16')", "InstanceNormalization(dtype='float16')"),
    "a policy object": ("GN(4, dtype=policy)", "GroupNormalization(4, dtype=policy)"),
    "autocast": ("GN(4, autocast=False)", "GroupNormalization(4, autocast=False)"),
}


@pytest.mark.parametrize("before, after", REPLACEMENT_CASES.values(), ids=REPLACEMENT_CASES.keys())
def test_replacement_where_keras_is_not_provably_tfa(before, after):
    name = after.split("(")[0]
    for target in ("keras", "compat"):
        check(
            f"{_tfa_import(before)}\ny = {before}\n",
            f"from tf2norm.replacements import {name}\n\ny = {after}\n",
            target=target,
            only=ONLY,
        )


def test_a_file_whose_keras_is_tf_keras_gets_the_replacements():
    check(
        """\
        from tensorflow import keras
        import tensorflow_addons as tfa

        norm = tfa.layers.InstanceNormalization(center=False)
        dense = keras.layers.Dense(4)
        """,
        """\
        from tensorflow import keras
        from tf2norm.replacements import InstanceNormalization

        norm = InstanceNormalization(center=False)
        dense = keras.layers.Dense(4)
        """,
    )


def test_multiline_call_keeps_its_layout_and_the_comments_of_dropped_arguments():
    check(
        """\
        import tensorflow_addons as tfa

        net = tfa.layers.InstanceNormalization(
            groups=8,  # ignored by tfa anyway
            epsilon=1e-5,  # as in the paper
            dynamic=False,  # Keras 2 only
            name='in1',
        )(net)
        """,
        """\
        import keras

        # ignored by tfa anyway
        # Keras 2 only
        net = keras.layers.GroupNormalization(
            groups=-1,
            epsilon=1e-5,  # as in the paper
            name='in1',
        )(net)
        """,
        findings=[("TF2N653", 4, 5)],
    )


def test_the_file_binds_the_replacement_name_itself():
    check(
        """\
        import functools
        import tensorflow_addons as tfa


        def GroupNormalization(x):
            return x

        norm = functools.partial(tfa.layers.GroupNormalization, groups=16)
        """,
        """\
        import functools
        import tf2norm.replacements


        def GroupNormalization(x):
            return x

        norm = functools.partial(tf2norm.replacements.GroupNormalization, groups=16)
        """,
    )


# -- compat target: the replacements with tfa's arguments ----------------------------------------

def test_compat_keeps_every_argument():
    check(
        """\
        import tensorflow_addons as tfa

        a = tfa.layers.GroupNormalization(16, -1, 1e-5, name='gn')
        b = tfa.layers.InstanceNormalization(groups=3, axis=1, dtype='mixed_float16')
        c = tfa.layers.InstanceNormalization(batch_size=None)
        """,
        """\
        from tf2norm.replacements import GroupNormalization, InstanceNormalization

        a = GroupNormalization(16, -1, 1e-5, name='gn')
        b = InstanceNormalization(groups=3, axis=1, dtype='mixed_float16')
        c = InstanceNormalization()
        """,
        target="compat",
    )


# -- the class as a value ------------------------------------------------------------------------

def test_the_class_as_a_value_becomes_the_replacement_class_in_both_targets():
    before = """\
        import functools
        import tensorflow_addons as tfa
        from tensorflow_addons.layers import InstanceNormalization

        def block(x, norm=tfa.layers.GroupNormalization):
            return norm(groups=4)(x)

        make_norm = functools.partial(tfa.layers.GroupNormalization, groups=16, axis=1)
        NORMS = {'gn': tfa.layers.GroupNormalization, 'in': InstanceNormalization}
        Norm = tfa.layers.GroupNormalization
        y = Norm(groups=2)(x)
        """
    after = """\
        import functools
        from tf2norm.replacements import GroupNormalization, InstanceNormalization

        def block(x, norm=GroupNormalization):
            return norm(groups=4)(x)

        make_norm = functools.partial(GroupNormalization, groups=16, axis=1)
        NORMS = {'gn': GroupNormalization, 'in': InstanceNormalization}
        Norm = GroupNormalization
        y = Norm(groups=2)(x)
        """
    check(before, after)
    check(before, after, target="compat")


def test_isinstance_group_normalization_becomes_keras_class_of_every_migrated_layer():
    check(
        """\
        import tensorflow_addons as tfa

        norms = [layer for layer in model.layers if isinstance(layer, tfa.layers.GroupNormalization)]
        other = isinstance(layer, (tf.keras.layers.BatchNormalization, tfa.layers.GroupNormalization))
        sub = issubclass(cls, tfa.layers.GroupNormalization)
        """,
        """\
        import keras

        norms = [layer for layer in model.layers if isinstance(layer, keras.layers.GroupNormalization)]
        other = isinstance(layer, (tf.keras.layers.BatchNormalization, keras.layers.GroupNormalization))
        sub = issubclass(cls, keras.layers.GroupNormalization)
        """,
    )


def test_isinstance_instance_normalization_is_reported_in_the_keras_target():
    source = """\
        import tensorflow_addons as tfa

        y = tfa.layers.InstanceNormalization()(x)
        if isinstance(layer, tfa.layers.InstanceNormalization):
            pass
        """
    found = check(
        source,
        """\
        import tensorflow_addons as tfa
        import keras

        y = keras.layers.GroupNormalization(groups=-1)(x)
        if isinstance(layer, tfa.layers.InstanceNormalization):
            pass
        """,
        findings=[("TF2N655", 4, 22)],
    )
    assert found[0].message == (
        "isinstance(..., InstanceNormalization): migrated instance normalisations are "
        "keras.layers.GroupNormalization(groups=-1), not a class of their own; left unchanged")
    # compat: every call becomes tf2norm's InstanceNormalization, so the test still holds.
    check(
        source,
        """\
        from tf2norm.replacements import InstanceNormalization

        y = InstanceNormalization()(x)
        if isinstance(layer, InstanceNormalization):
            pass
        """,
        target="compat",
    )


def test_isinstance_in_a_file_whose_keras_is_another_module_is_reported():
    found = check(
        """\
        from tensorflow import keras
        import tensorflow_addons as tfa

        def is_norm(layer):
            return isinstance(layer, tfa.layers.GroupNormalization)
        """,
        None,
        findings=[("TF2N655", 5, 30)],
    )
    assert found[0].message == (
        "isinstance(..., GroupNormalization): the class of every migrated layer is keras.layers.GroupNormalization, "
        "and this file's name keras is not the keras module; left unchanged")
    assert found[0].hint == "import keras under another name and test against keras.layers.GroupNormalization"


def test_a_subclass_is_reported():
    found = check(
        """\
        import tensorflow_addons as tfa


        class FrozenGroupNorm(tfa.layers.GroupNormalization):
            def call(self, inputs):
                return super().call(inputs)
        """,
        """\
        from tf2norm.replacements import GroupNormalization


        class FrozenGroupNorm(GroupNormalization):
            def call(self, inputs):
                return super().call(inputs)
        """,
        findings=[("TF2N654", 4, 23)],
    )
    assert found[0].message == (
        "class FrozenGroupNorm subclasses tfa's GroupNormalization: it now subclasses "
        "tf2norm.replacements.GroupNormalization, a keras.layers.GroupNormalization whose internals are not tfa's")
    assert found[0].rewriter == "tfa_normalization"


# -- what is reported ----------------------------------------------------------------------------

REPORTED = {
    "TF2N010": ("GN(**kwargs)", "GroupNormalization: *args/**kwargs hide which arguments are passed; left unchanged"),
    "TF2N011": ("GN(groupz=4)", "GroupNormalization: arguments do not match the TF1 signature (unknown argument "
                                "'groupz'); left unchanged"),
    "TF2N652": ("GN(4, batch_input_shape=(None, 8, 8, 16))",
                "GroupNormalization(batch_input_shape=...): Keras 3 layers take no batch_input_shape; left unchanged"),
}


@pytest.mark.parametrize("code", REPORTED)
def test_reported_and_left_unchanged(code):
    call, message = REPORTED[code]
    source = ("import tensorflow_addons as tfa\nfrom tensorflow_addons.layers import GroupNormalization as GN\n\n\n"
              f"def f(x, kwargs):\n    return {call}(x)\n")
    for target in ("keras", "compat"):
        found = check(source, None, target=target, findings=[(code, 6, 12)])
        assert found[0].message == message
        assert found[0].rewriter == "tfa_normalization"


@pytest.mark.parametrize("call, argument, hint", [
    ("IN(weights=[g, b])", "weights", "call layer.set_weights(...) once the layer is built"),
    ("IN(dynamic=True)", "dynamic", "drop it (Keras 3: model.compile(run_eagerly=True))"),
    ("IN(batch_size=32)", "batch_size", "start the model with keras.Input(batch_size=...)"),
    ("IN(implementation=2)", "implementation", "drop it"),
    ("IN(dynamic=flag)", "dynamic", "drop it (Keras 3: model.compile(run_eagerly=True))"),
])
def test_keras2_only_arguments_are_reported(call, argument, hint):
    found = check(f"from tensorflow_addons.layers import InstanceNormalization as IN\ny = {call}\n", None,
                  findings=[("TF2N652", 2, 5)])
    assert found[0].message == (f"InstanceNormalization({argument}=...): Keras 3 layers take no {argument}; "
                                "left unchanged")
    assert found[0].hint == hint


def test_instance_normalization_takes_no_positional_arguments():
    found = check("import tensorflow_addons as tfa\ny = tfa.layers.InstanceNormalization(-1)\n", None,
                  findings=[("TF2N011", 2, 5)])
    assert "(positional arguments; it takes keywords only)" in found[0].message
    check("import tensorflow_addons as tfa\ny = tfa.layers.GroupNormalization(" + ", ".join(["1"] * 12) + ")\n",
          None, findings=[("TF2N011", 2, 5)])


def test_instance_normalization_groups_is_dropped_and_reported():
    found = check(
        "import tensorflow_addons as tfa\ny = tfa.layers.InstanceNormalization(groups=4, axis=1)(x)\n",
        "import keras\n\ny = keras.layers.GroupNormalization(groups=-1, axis=1)(x)\n",
        findings=[("TF2N653", 2, 38)],
    )
    assert found[0].message == ("InstanceNormalization(groups=...): tfa overwrote it with -1 (one group per "
                                "channel), so it was dropped")


@pytest.mark.parametrize("call, after, col", [
    ("IN(axis=-2)", "InstanceNormalization(axis=-2)", 5),
    ("IN(axis=-3, center=False)", "InstanceNormalization(axis=-3, center=False)", 5),
    ("GN(groups=-1, axis=-2)", "GroupNormalization(groups=-1, axis=-2)", 5),
])
def test_tfas_per_channel_negative_axis_keeps_tfas_numbers_and_is_reported(call, after, col):
    name = after.split("(")[0]
    for target in ("keras", "compat"):
        found = check(
            f"{_tfa_import(call)}y = {call}\n",
            f"from tf2norm.replacements import {name}\n\ny = {after}\n",
            target=target,
            findings=[("TF2N651", 2, col)],
        )
    axis = after.split("axis=")[1].split(")")[0].split(",")[0]
    assert found[0].message == (
        f"{name}(axis={axis}) with one channel per group: tfa normalised over other axes than the channels "
        f"there (a tfa bug); tf2norm.replacements.{name} keeps tfa's numbers, keras.layers.GroupNormalization "
        "would normalise per channel")


def test_grouped_negative_axis_is_not_reported():
    # Several channels per group (or groups unknown): tfa normalised the intended axes; the
    # replacement is exact whichever path runs.
    check("import tensorflow_addons as tfa\ny = tfa.layers.GroupNormalization(4, axis=-2)\n",
          "from tf2norm.replacements import GroupNormalization\n\ny = GroupNormalization(4, axis=-2)\n")


def test_a_name_bound_more_than_once_is_reported_not_guessed():
    found = check(
        """\
        try:
            from tensorflow_addons.layers import GroupNormalization
        except ImportError:
            from keras.layers import GroupNormalization

        y = GroupNormalization(groups=8)(x)
        """,
        None,
        findings=[("TF2N012", 6, 5)],
    )
    assert found[0].rewriter == "tfa_normalization"
    assert found[0].message == ("GroupNormalization may be tensorflow_addons.layers.GroupNormalization or something "
                                "else (the name is bound more than once); left unchanged")


def test_star_import_is_reported():
    found = check("from tensorflow_addons.layers import *\ny = GroupNormalization(8)(x)\n", None,
                  findings=[("TF2N013", 1, 1)])
    assert found[0].rewriter == "tfa_normalization"


def test_a_finding_can_be_silenced_on_its_line():
    check("import tensorflow_addons as tfa\ny = tfa.layers.GroupNormalization(weights=w)  # tf2norm: ignore[TF2N652]\n",
          None)


# -- look-alikes: left exactly as they are -------------------------------------------------------

NOOPS = {
    "Keras 3's own layer": "import keras\ny = keras.layers.GroupNormalization(groups=-1)(x)\n",
    "tf.keras": "import tensorflow as tf\ny = tf.keras.layers.GroupNormalization(groups=4)(x)\n",
    "from keras.layers": "from keras.layers import GroupNormalization\ny = GroupNormalization(4)(x)\n",
    "already migrated": "from tf2norm.replacements import GroupNormalization, InstanceNormalization\n"
                        "y = InstanceNormalization(axis=-2)(GroupNormalization(4)(x))\n",
    "a local class of the same name": "class InstanceNormalization:\n    pass\n\ny = InstanceNormalization()\n",
    "a parameter shadowing tfa": "import tensorflow_addons as tfa\n\n\ndef f(tfa):\n"
                                 "    return tfa.layers.GroupNormalization(4)\n\n\nopt = tfa.optimizers.AdamW(0.1)\n",
    "another library": "import torch\ny = torch.nn.GroupNorm(4, 16)\nfrom keras_contrib.layers import "
                       "InstanceNormalization\nz = InstanceNormalization()\n",
    "other tfa layers": "import tensorflow_addons as tfa\ny = tfa.layers.WeightNormalization(layer)\n"
                        "z = tfa.layers.FilterResponseNormalization()\n",
    "a tfa look-alike module": "import tensorflow_addons_extra as tfa\ny = tfa.layers.GroupNormalization(4)\n",
    "text only": "# tfa.layers.GroupNormalization(groups=4)\ndoc = 'tensorflow_addons.layers.InstanceNormalization'\n",
    "an attribute of an object": "y = self.tfa.layers.GroupNormalization(4)\n",
}


@pytest.mark.parametrize("source", NOOPS.values(), ids=NOOPS.keys())
def test_look_alikes_are_left_alone(source):
    check_noop(source)


def test_finding_codes_are_in_this_rewriters_range():
    assert all("TF2N651" <= code <= "TF2N699" for code in tfa_normalization.RULES)
