"""The engine of the rewriters that turn a TF1 layer function into a Keras layer call.

TF1's layer functions (`batch_norm`, `layer_norm`, `tf.layers.batch_normalization`) took the input
and built their variables in one call. A rewriter of one of them is a `LayerCall` spec (its
signature, which TF1 arguments are the input, `training`, the scope, `reuse` and the activation,
and two functions: what cannot be mapped, and the layer's constructor arguments) run by
`LayerCallRewriter`:

* keras target: `f(x, ..., is_training=t, activation_fn=a, scope="s")` becomes
  `a(Layer(..., name="s")(x, training=t))`, its own line breaks and comments kept where arguments
  keep their place; a call the spec cannot map is reported and left unchanged;
* compat target: the function is replaced by tf2norm's TF1-signature function, arguments untouched
  (the defaults of an enclosing arg_scope written in; _arg_scopes);
* the function passed as a value (`normalizer_fn=f`, `functools.partial(f, ...)`) becomes that TF1
  function too, in both targets (reported in the keras target: its caller passes TF1 arguments).

TF1's layer functions shared variables by scope: `scope=` / `name=` with `reuse=`, or an enclosing
`variable_scope(reuse=...)`. Keras layers share by object, so such a call becomes
`scoped_layer(scope, lambda: Layer(...), reuse=...)`, which finds the layer of an already used scope
(tf2norm.replacements.scoped_layer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import libcst as cst

from tf2norm.rewriters import _arg_scopes, _calls, _findings
from tf2norm.rewriters._findings import Rule
from tf2norm.rewriters._rewriter import Rewriter
from tf2norm.rewriters._signature import Mismatch, bind, code, is_literal

#: (keyword of the layer's constructor, getter of its value from the updated call, index of the
#: call's argument it stands for, or None for a value the call did not give).
Item = tuple[str, Callable[[cst.Call], cst.BaseExpression], "int | None"]


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
        assert reuse is not None  # explicit: a literal True or AUTO_REUSE
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


#: Functions that call a `normalizer_fn` with TF1's arguments and keep doing so once migrated: slim's
#: layers and arg_scope, which contrib_slim makes tf_slim's (its maintained successor, not Keras).
_SLIM = ("tf_slim.", "tensorflow.contrib.slim.", "tensorflow.contrib.layers.", "tensorflow.contrib.framework.")


def slim_calls_it(ctx, node: cst.CSTNode) -> bool:
    """True for `normalizer_fn=` of a slim layer, or of an arg_scope that lists only slim functions.

    There the TF1-signature replacement is the final answer, not a stop on the way to a Keras layer
    (the value findings' fix, "move to the Keras layer when the caller is migrated", cannot apply:
    the migrated caller is tf_slim), so the keras target reports nothing. Any other caller (the
    program's own helper, `functools.partial`, a name) may be migrated to Keras later: reported.
    """
    parent = ctx.names.parents.get(node)
    if not (isinstance(parent, cst.Arg) and parent.keyword is not None and parent.keyword.value == "normalizer_fn"):
        return False
    call = ctx.names.parents.get(parent)
    callee = ctx.names.canonical(call.func) if isinstance(call, cst.Call) else None
    if callee is None or not callee.startswith(_SLIM):
        return False
    if callee not in _arg_scopes.ARG_SCOPES:
        return True
    listed = call.args[0].value if call.args and call.args[0].keyword is None else None
    if not isinstance(listed, (cst.List, cst.Tuple)) or not listed.elements:
        return False
    return all((ctx.names.canonical(element.value) or "").startswith(_SLIM) for element in listed.elements)


@dataclass(frozen=True)
class LayerCall:
    """What the engine needs to know about one TF1 layer function (see the module docstring)."""

    #: The function's name in findings (`batch_norm`, `tf.layers.batch_normalization`).
    api: str
    #: TF1's signature; only the first argument (the input) is required.
    signature: tuple[str, ...]
    #: The tf2norm.replacements function with TF1's signature: the compat target, and uses as a value.
    compat: str
    #: Reported (keras target) where the function is passed as a value, with `usage`.
    value_rule: Rule
    #: `(ctx, args, reuses) -> (rule, message fields) | None`: why the keras target cannot map a
    #: call (checked in the spec's order; `LayerCallRewriter.unshared_reuse` gives the scope checks).
    check: Callable[..., tuple[Rule, dict] | None]
    #: `(ctx, args, activation_around) -> (layer, items)`: the layer's callee (called while edits
    #: are applied) and its constructor arguments, in the layer's order.
    constructor: Callable[..., tuple[Callable[[], cst.BaseExpression], list[Item]]]
    #: The TF1 argument that names the scope the layer's variables live in.
    scope: str = "scope"
    #: The TF1 argument that becomes the layer call's `training=`, and what is written when absent
    #: (None: the layer takes no `training`).
    training: str | None = None
    training_default: str = "False"
    #: The TF1 activation applied to the output, applied around the layer when surely a function.
    activation: str | None = None
    #: TF1's reason for a `reuse=` without a scope (TF2N104-like findings).
    reuse_without_scope: str = ""
    #: slim's functions: arg_scope lists name the compat function, defaults go into direct calls.
    arg_scope: _arg_scopes.Spec | None = None
    #: `(ctx, call) -> bool`: True when a compat-target call must stay as it is (reported there).
    compat_check: Callable[..., bool] | None = None
    #: TF1 arguments that are per call, not per layer: passed to the layer call under the same
    #: keyword when given (contrib's `batch_weights`).
    call_arguments: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.reuse_without_scope:
            object.__setattr__(self, "reuse_without_scope", f"reuse= without {self.scope}=")

    @property
    def moved(self) -> tuple[str, ...]:
        """The arguments whose values move out of the constructor (into the call, around it, into
        scoped_layer): where their place goes, only the comments of their comma move up."""
        return tuple(a for a in ("inputs", self.training, self.activation, "reuse", self.scope, *self.call_arguments)
                     if a)


class LayerCallRewriter(Rewriter):
    """Runs a `LayerCall` spec over the calls and other uses of its legacy names."""

    def __init__(self, spec: LayerCall, legacy: frozenset[str], rules: dict[str, Rule]):
        self.spec = spec
        self.legacy = legacy
        self.rules = rules

    def plan(self, ctx) -> None:
        inherited = _arg_scopes.plan(ctx, self.spec.arg_scope) if self.spec.arg_scope is not None else {}
        reuses = ctx.reuses_variable_scopes()
        for node, _ in self.references(ctx):
            parent = ctx.names.parents.get(node)
            if isinstance(parent, cst.Call) and parent.func is node:
                self.rewrite_call(ctx, parent, inherited.get(parent, {}), reuses)
            else:
                self.rewrite_value(ctx, node)

    def rewrite_value(self, ctx, node: cst.CSTNode) -> None:
        """The function used as a value becomes the TF1-signature replacement."""
        ctx.edit(node, lambda _: ctx.replacement(self.spec.compat), consumes=node)
        if ctx.target == "keras" and not slim_calls_it(ctx, node):
            ctx.report(self.spec.value_rule, node, usage=usage(ctx, node))

    def rewrite_call(self, ctx, call: cst.Call, inherited: dict, reuses: bool) -> None:
        if ctx.target == "compat":
            self._compat_call(ctx, call, inherited)
        else:
            self._keras_call(ctx, call, inherited, reuses)

    def unshared_reuse(self, args: Arguments, reuses: bool) -> str | None:
        """Why the call's variable sharing cannot be expressed with layer objects, else None."""
        scope = self.spec.scope
        reusing = args.given("reuse") and not is_literal(args.value("reuse"), False)
        if reusing and not args.given(scope):
            return self.spec.reuse_without_scope
        if reuses and not args.given(scope):
            return f"no {scope}= in a file that reuses variable scopes"
        return None

    def _bind(self, ctx, call: cst.Call):
        try:
            return bind(call, self.spec.signature, required=1)
        except Mismatch as mismatch:
            ctx.report(_findings.RULES[mismatch.code], call, api=self.spec.api, reason=mismatch.reason)
            return None

    def _compat_call(self, ctx, call: cst.Call, inherited: dict) -> None:
        if self.spec.compat_check is not None and self.spec.compat_check(ctx, call):
            return
        extra = {}
        if inherited:
            bound = self._bind(ctx, call)
            if bound is None:
                return
            extra = {k: v for k, v in inherited.items() if k not in bound}
        ctx.edit(call.func, lambda _: ctx.replacement(self.spec.compat), consumes=call.func)
        if extra:
            def add_defaults(updated: cst.Call) -> cst.Call:
                items: list[tuple[cst.Arg, int | None]] = [(a, i) for i, a in enumerate(updated.args)]
                items += [(_calls.keyword(k, v), None) for k, v in extra.items()]
                return updated.with_changes(args=_calls.relaid(updated, items))

            ctx.edit(call, add_defaults)

    def _keras_call(self, ctx, call: cst.Call, inherited: dict, reuses: bool) -> None:
        spec = self.spec
        bound = self._bind(ctx, call)
        if bound is None:
            return
        args = Arguments(ctx, bound, inherited, spec.signature)
        problem = spec.check(ctx, args, reuses)
        if problem is not None:
            rule, fields = problem
            ctx.report(rule, call, **fields)
            return
        how = sharing(ctx, args.value("reuse") if args.given("reuse") else None, args.given(spec.scope), reuses)
        around = spec.activation is not None and args.given(spec.activation) \
            and surely_callable(ctx, args.value(spec.activation))
        func, items = spec.constructor(ctx, args, around)
        self._rescue_comments(ctx, call, bound, {i for _, _, i in items if i is not None})

        def build(updated: cst.Call) -> cst.BaseExpression:
            constructor = [(_calls.keyword(kw, get(updated), updated.args[i] if i is not None else None), i)
                           for kw, get, i in items]
            layer: cst.BaseExpression = cst.Call(func=func(), args=_calls.relaid(updated, constructor),
                                                 whitespace_before_args=updated.whitespace_before_args)
            if how.shared:
                reuse = args.getter("reuse")(updated) if how.reusing else None
                layer = scoped(ctx, layer, args.getter(spec.scope)(updated), reuse, how)
            call_args = [_calls.positional(args.getter("inputs")(updated))]
            if spec.training is not None:
                training = (args.getter(spec.training)(updated) if args.value(spec.training) is not None
                            else cst.Name(spec.training_default))
                call_args.append(_calls.keyword("training", training))
            call_args += [_calls.keyword(name, args.getter(name)(updated))
                          for name in spec.call_arguments if args.given(name)]
            result = _calls.call(layer, *call_args)
            if around:
                result = _calls.call(args.getter(spec.activation)(updated), _calls.positional(result))
            return result.with_changes(lpar=updated.lpar, rpar=updated.rpar)

        ctx.edit(call, build, consumes=call.func)

    def _rescue_comments(self, ctx, call: cst.Call, bound, used: set[int]) -> None:
        """Comments of the arguments whose place in the call goes away move above the statement."""
        kept = _calls.kept_in_place(call, used)
        for name, index in bound.index.items():
            if index not in kept:
                # A value that moves (x, is_training, ...) keeps its own comments; only its comma's go.
                ctx.rescue_comments(call, call.args[index].comma if name in self.spec.moved else call.args[index])
