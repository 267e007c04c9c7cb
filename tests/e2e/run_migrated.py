"""Run one migrated end-to-end program on TF 2.21 and write what it computed (a subprocess of the tests).

    python run_migrated.py NAME MIGRATED_MODEL_PY CHECKPOINT_PREFIX GOLDEN_NPZ OUT_NPZ [--disable-v2-behavior]

Restores the TF1 checkpoint into the migrated program through the program's own (migrated)
tf.compat.v1.train.Saver and replays fixtures/e2e/drive.py's steps; OUT_NPZ holds the results
under the golden keys plus ``__env__/*`` describing the runtime (TF and Keras versions, whether
tf_keras is importable, TF_USE_LEGACY_KERAS).

By default the program runs as TF 2.21 starts (eager enabled; the program's explicit tf.Graph gives
tf.compat.v1 graph mode with TF2 control flow and resource variables). With
``--disable-v2-behavior`` it first calls ``tf.compat.v1.disable_v2_behavior()``, as TF's migration
guide has TF1 programs do (TF1 control flow, reference variables).
"""

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np

DRIVE = Path(__file__).resolve().parents[2] / "fixtures" / "e2e" / "drive.py"


def main(name, model_path, checkpoint, golden_path, out_path, *options):
    import keras
    import tensorflow as tf

    if options == ("--disable-v2-behavior",):
        tf.compat.v1.disable_v2_behavior()
    elif options:
        raise SystemExit(f"unknown options {options}")

    drive = _load(DRIVE, "e2e_drive")
    program = drive.load_program(model_path, f"migrated_{name}")
    with np.load(golden_path) as data:
        golden = {k: data[k] for k in data.files}
    results = drive.replay(name, program, checkpoint, golden)
    results["__env__"] = np.array(json.dumps({
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tf_keras_importable": importlib.util.find_spec("tf_keras") is not None,
        "TF_USE_LEGACY_KERAS": os.environ.get("TF_USE_LEGACY_KERAS"),
        "program_module_file": program.__file__,
        "v2_behavior": tf.__internal__.tf2.enabled(),
        "executing_eagerly": tf.executing_eagerly(),
    }))
    np.savez(out_path, **results)


def _load(path, module_name):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    main(*sys.argv[1:])
