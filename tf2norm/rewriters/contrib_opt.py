"""`tf.contrib.opt.ScipyOptimizerInterface` (however imported or aliased) ->
`tf2norm.replacements.ScipyOptimizerInterface`, same arguments, in both targets.

TF 2 removed it with tf.contrib (tf_upgrade_v2 only reports it), and TF1 physics-informed-network
programs (DeepXDE's `train.py`) train with it after Adam: `ScipyOptimizerInterface(loss,
method="L-BFGS-B", options=...)` and `opt.minimize(session, feed_dict=..., fetches=[...],
loss_callback=...)`. tf2norm's class is TF 1.15's contract over `scipy.optimize.minimize` in
`tf.compat.v1` graph mode, so only the class changes:

    tf.contrib.opt.ScipyOptimizerInterface(loss, method="BFGS")  ->  ScipyOptimizerInterface(loss, method="BFGS")

Every reference is rewritten (calls, the class as a value or a base), reached as
`tf.contrib.opt.ScipyOptimizerInterface`, `tf.compat.v1.contrib.opt...`, `from tensorflow.contrib.opt
import ScipyOptimizerInterface`, the defining module
`tensorflow.contrib.opt.python.training.external_optimizer`, and aliases of those; the contrib import
goes when nothing else uses it. The rest of `tf.contrib.opt` (`ExternalOptimizerInterface`,
`LazyAdamOptimizer`, ...) is not this API: unsupported_apis reports it (TF2N720).
"""

from __future__ import annotations

from tf2norm.rewriters._class_swap import ClassSwap, ClassSwapRewriter, Swap
from tf2norm.rewriters._findings import rules

LEGACY = frozenset({"tensorflow.contrib.opt.ScipyOptimizerInterface",
                    "tensorflow.contrib.opt.python.training.external_optimizer.ScipyOptimizerInterface"})

REWRITER = ClassSwapRewriter(ClassSwap(
    classes=(Swap(LEGACY, "ScipyOptimizerInterface", checked=False),),  # any arguments: TF1's, passed on
), rules())
