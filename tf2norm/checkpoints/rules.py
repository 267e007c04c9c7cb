"""What can be wrong with a TF1 checkpoint group: coded findings, as `tf2norm migrate`'s are.

Each problem the checkpoint tools find in a group is a `tf2norm.findings.Finding` of one of these
rules, placed at the group's TF1 scope (its "path"; line and column 0). `inspect` prints its message
under the group (`PROBLEM: ...`) and `inspect --json` lists the group's `findings` (the findings
schema of `tf2norm migrate --format json`); `convert`, `verify` and `load_tf1_weights` refuse a group
with an error finding, with its message on one line (exit status 2). Codes TF2N9xx are the
checkpoint tools'.
"""

from __future__ import annotations

from tf2norm.findings import Rule, rules

RULES = rules(
    Rule("TF2N901", "inconsistent {title} group {scope}: {detail}",
         "the group's variables contradict each other (a damaged checkpoint, or another layer's variables under "
         "names tf2norm knows): it is not converted", severity="error"),
    Rule("TF2N902", "{name}: unsupported dtype {dtype} (tf2norm converts float32 checkpoints only)",
         "save the model's variables as float32, then convert", severity="error"),
    Rule("TF2N903", "{name} holds {bad} NaN or infinite values of {size}; the layer will compute NaN",
         "TF1 saved them as they were: check the training run that wrote the checkpoint"),
)
