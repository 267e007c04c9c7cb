"""Legacy `tf.contrib.training.HParams` (however imported or aliased) -> `tf2norm.replacements.HParams`,
same arguments, in both targets.

TF 2 removed `tf.contrib.training.HParams` with tf.contrib (tf_upgrade_v2 only reports it), and programs
build their configuration with it at import (sketch-rnn's `get_default_hparams`). tf2norm's `HParams`
is TF 1.15's, pure Python: the same constructor, attributes, `values()`, `parse()` rules and errors,
`override_from_dict`, `set_hparam`, `add_hparam`, `del_hparam`, `get`, `to_json` / `parse_json`. So only
the class changes:

    tf.contrib.training.HParams(batch_size=100, dec_model="lstm")  ->  HParams(batch_size=100, dec_model="lstm")

Every reference is rewritten (calls, the class as a value or a base, `isinstance`), reached as
`tf.contrib.training.HParams`, `tf.compat.v1.contrib.training.HParams`, `from tensorflow.contrib.training
import HParams`, the defining module `tensorflow.contrib.training.python.training.hparam`, and aliases
of those; the contrib import goes when nothing else uses it. Left unchanged and reported (TF2N750): a
call that passes an `HParamDef` protocol buffer (`hparam_def=`, or a first positional argument other
than None), which tf2norm's HParams does not read, and (TF2N751) `HParams.from_proto(...)`, which it
does not have either (`to_proto()` on an instance cannot be told from other objects' `to_proto`
statically: tf2norm's HParams raises NotImplementedError that names the fix). The rest of `tf.contrib.training`
(`bucket_by_sequence_length`, ...) is not this API: unsupported_apis reports it.
"""

from __future__ import annotations

import libcst as cst

from tf2norm.rewriters._class_swap import ClassSwap, ClassSwapRewriter, Swap
from tf2norm.rewriters._findings import Rule, rules

LEGACY = frozenset({"tensorflow.contrib.training.HParams",
                    "tensorflow.contrib.training.python.training.hparam.HParams"})

RULES = rules(
    Rule("TF2N750", "HParams(hparam_def=...): tf2norm's HParams does not read an HParamDef protocol buffer; "
                    "left unchanged",
         "pass the values as keyword arguments (HParams(**values)), e.g. from the HParamDef's hparam map"),
    Rule("TF2N751", "HParams.from_proto: tf2norm's HParams has no HParamDef protocol buffer (it went with "
                    "tf.contrib); left unchanged",
         "store the hyperparameters as JSON (hparams.to_json()) and read them with HParams().parse_json(text), "
         "or build HParams(**values) from the HParamDef's hparam map"),
)


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


class HParamsRewriter(ClassSwapRewriter):
    """The class swap, but a call given an HParamDef and `HParams.from_proto` are reported and left as they are."""

    def rewrite_reference(self, ctx, node: cst.CSTNode, swap: Swap) -> None:
        parent = ctx.names.parents.get(node)
        if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value == "from_proto":
            ctx.report(RULES["TF2N751"], parent)
            ctx.handled.add(node)
            return
        super().rewrite_reference(ctx, node, swap)

    def rewrite_call(self, ctx, call: cst.Call, swap: Swap) -> None:
        positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
        proto = [arg for arg in call.args if arg.keyword is not None and arg.keyword.value == "hparam_def"]
        if any(not _is_none(arg.value) for arg in positional[:1] + proto):
            ctx.report(RULES["TF2N750"], call)
            return
        super().rewrite_call(ctx, call, swap)


REWRITER = HParamsRewriter(ClassSwap(
    classes=(Swap(LEGACY, "HParams", checked=False),),
    members=True,  # `HParams.from_proto(...)` reaches the class
), RULES)
