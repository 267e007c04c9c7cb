"""tf.contrib.layers.batch_norm groups recognised from TF1 variable names (the real checkpoints are in
test_checkpoint_cli.py and test_checkpoint_restore.py; tf.layers' in test_layers_batch_normalization.py)."""

from __future__ import annotations

from tests.checkpoints.names import F, bn
from tf2norm.checkpoints.naming import recognise


def test_batch_norm_scale_center_and_extras():
    names = (bn("block1/BatchNorm") + bn("block2/BatchNorm", scale=False)
             + bn("block4/BatchNorm", center=False, scale=False)
             + bn("features/BatchNorm", c=5)
             + [("features/BatchNorm/features/BatchNorm/moving_mean/biased", (5,), F),
                ("features/BatchNorm/features/BatchNorm/moving_mean/local_step", (), F)]
             + bn("renorm/batch_normalization", c=3)
             + [(f"renorm/batch_normalization/{n}", (3,), F)
                for n in ("moving_stddev", "renorm_mean", "renorm_stddev")])
    inv = recognise(names)
    assert inv.problems == []
    by = {g.scope: g for g in inv.groups}
    assert list(by) == ["block1/BatchNorm", "block2/BatchNorm", "block4/BatchNorm",
                        "features/BatchNorm", "renorm/batch_normalization"]
    flags = {s: (g.channels, g.config["center"], g.config["scale"], g.config["renorm"],
                 g.config["zero_debias_moving_mean"]) for s, g in by.items()}
    assert flags == {
        "block1/BatchNorm": (4, True, True, False, False),
        "block2/BatchNorm": (4, True, False, False, False),
        "block4/BatchNorm": (4, False, False, False, False),
        "features/BatchNorm": (5, True, True, False, True),
        "renorm/batch_normalization": (3, True, True, True, False),
    }
    assert by["features/BatchNorm"].weights["moving_mean_local_step"] == \
        "features/BatchNorm/features/BatchNorm/moving_mean/local_step"
    assert by["renorm/batch_normalization"].naming == "tf.layers.batch_normalization"
    assert sorted(by["renorm/batch_normalization"].weights) == sorted(
        ["beta", "gamma", "moving_mean", "moving_variance", "moving_stddev", "renorm_mean",
         "renorm_stddev"])
    # TF1 defaults for what a checkpoint cannot hold; NHWC assumed
    g = by["block1/BatchNorm"]
    assert (g.config["momentum"], g.config["epsilon"], g.config["axis"], g.data_format,
            g.data_format_given) == (0.999, 0.001, -1, "NHWC", False)
