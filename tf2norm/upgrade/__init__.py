"""`tf2norm upgrade`: TensorFlow's tf_upgrade_v2, with pasta's slice bug fixed and no tree aborted.

``command`` (TF-free click glue) checks the arguments and runs ``runner`` in a subprocess with this
interpreter; ``runner`` imports TensorFlow's tf_upgrade_v2, applies ``pasta_slices`` and runs
tf_upgrade_v2's own main with a file-by-file upgrader that copies what it cannot convert.
"""
