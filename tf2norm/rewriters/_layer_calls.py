"""What the rewriters that turn a TF1 function call into a Keras layer call share.

TF1's layer functions (`batch_norm`, `layer_norm`, `tf.layers.batch_normalization`) shared variables
by scope: `scope=` / `name=` with `reuse=`, or an enclosing `variable_scope(reuse=...)`. Keras layers
share by object, so such a call becomes `scoped_layer(scope, lambda: Layer(...), reuse=...)`, which
finds the layer of an already used scope (tf2norm.replacements.scoped_layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from tf2norm.rewriters import _calls
from tf2norm.rewriters._signature import code, is_literal


class Arguments:
    """A call's TF1 arguments, its own or inherited from an arg_scope, by name."""

    def __init__(self, ctx, bound, inherited: dict, signature: tuple):
        self.ctx, self.bound, self.inherited, self.signature = ctx, bound, inherited, signature

    def value(self, name):
        """The original expression, for the checks."""
        return self.bound.value(name) if name in self.bound else self.inherited.get(name)

    def given(self, name) -> bool:
        """Present and not a literal None."""
        return self.value(name) is not None and not is_literal(self.value(name), None)

    def getter(self, name):
        """From the updated call (its children already rewritten) to the expression to emit."""
        if name in self.bound:
            return lambda updated, i=self.bound.index[name]: updated.args[i].value
        return lambda updated, expression=self.inherited[name]: expression

    def names(self):
        """The given arguments: the call's own in their order, then inherited ones."""
        return sorted({*self.bound.index, *self.inherited},
                      key=lambda n: (n not in self.bound, self.bound.index.get(n, 0), self.signature.index(n)))


@dataclass(frozen=True)
class Sharing:
    """How one call shares variables.

    `reusing`: the call passes a reuse that may be true; `shared`: it names its scope and reuses
    (itself, or the file reuses variable scopes), so it needs `scoped_layer`; `explicit`: its reuse
    is literally True or AUTO_REUSE, which no enclosing scope can change.
    """

    reusing: bool
    shared: bool
    explicit: bool
    reuses: bool  # the file reuses variable scopes somewhere


def sharing(ctx, reuse: cst.BaseExpression | None, scope_given: bool, reuses: bool) -> Sharing:
    """`reuse`: the call's reuse argument (None when absent or a literal None)."""
    reusing = reuse is not None and not is_literal(reuse, False)
    explicit = reusing and (is_literal(reuse, True)
                            or (ctx.names.canonical(reuse) or "").endswith(".AUTO_REUSE"))
    return Sharing(reusing=reusing, shared=scope_given and (reusing or reuses), explicit=explicit,
                   reuses=reuses)


def scoped(ctx, layer: cst.BaseExpression, scope: cst.BaseExpression, reuse: cst.BaseExpression | None,
           how: Sharing) -> cst.BaseExpression:
    """`layer` itself, or `scoped_layer(scope, lambda: layer, reuse=...)` when the call shares by scope.

    `scope` and `reuse` are the updated call's expressions (`reuse` None when the call has none).
    """
    if not how.shared:
        return layer
    return _calls.call(ctx.replacement("scoped_layer"),
                       _calls.positional(scope.deep_clone()),
                       _calls.positional(cst.Lambda(params=cst.Parameters(), body=layer)),
                       _calls.keyword("reuse", _reuse(ctx, reuse if how.reusing else None, how)))


def _reuse(ctx, reuse: cst.BaseExpression | None, how: Sharing) -> cst.BaseExpression:
    """TF1's rule for the reuse of a scope: the call's `reuse`, or else the enclosing scope's."""
    if how.explicit:
        return reuse
    enclosing = cst.Attribute(value=cst.Call(func=ctx.tf_compat_v1("get_variable_scope")), attr=cst.Name("reuse"))
    if reuse is None:
        return enclosing
    if not how.reuses:
        return reuse
    if isinstance(reuse, (cst.IfExp, cst.Lambda, cst.NamedExpr)) and not reuse.lpar:
        reuse = reuse.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.BooleanOperation(left=reuse, operator=cst.Or(), right=enclosing)


def surely_callable(ctx, node: cst.BaseExpression) -> bool:
    """A function for sure (never None): a lambda, a call's result, an imported or module-level def."""
    if isinstance(node, (cst.Lambda, cst.Call)):
        return True
    if ctx.names.qualified(node) is not None:
        return True
    if isinstance(node, cst.Name):
        assignment = ctx.names.binding(node)
        return isinstance(getattr(assignment, "node", None), cst.FunctionDef)
    return False


def usage(ctx, node: cst.CSTNode) -> str:
    """How a legacy function is used when it is not called: for the 'passed as a value' findings."""
    parent = ctx.names.parents.get(node)
    if isinstance(parent, cst.Arg) and parent.keyword is not None:
        return f"{parent.keyword.value}="
    if isinstance(parent, cst.Arg):
        return f"an argument of {code(ctx.names.parents.get(parent).func)}()"
    if isinstance(parent, cst.Assign):
        return "assigned to a name"
    return "a reference"
