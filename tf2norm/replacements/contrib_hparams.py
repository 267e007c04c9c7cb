"""`HParams`: TF 1.15's `tf.contrib.training.HParams`, which TF 2 removed with tf.contrib.

    hps = HParams(batch_size=100, learning_rate=0.001, dec_model="lstm", layers=[64, 64])
    hps.parse("batch_size=50,dec_model=layer_norm,layers=[32,32]")   # types from the current values
    hps.values()  ->  {"batch_size": 50, ...}

Pure Python, ported from TF 1.15's `tensorflow/contrib/training/python/training/hparam.py`
(Apache-2.0, like tf2norm) so that a program's hyperparameters parse, cast and fail exactly as they
did: the constructor's keyword arguments (the type of each is taken from its value; a list's from
its first element), attribute access, `values()`, `parse(str)` (`name=value` pairs separated by
commas, `name=[v1,v2]` lists, `name[i]=v`; bools as `true`/`True`/`false`/`False` or an integer;
ValueError on an unknown name, a value that does not parse as the hyperparameter's type, a name
assigned twice, a reserved name), `override_from_dict`, `set_hparam` (TF1's casts: an int into a
float hyperparameter, never a float into an int, a bool only into a bool), `add_hparam`,
`del_hparam`, `get(key, default)`, `to_json` / `parse_json`, `in`, `str()` and `repr()`.
tests/replacements/test_contrib_hparams.py holds it to what TF 1.15 returned and raised
(fixtures/golden/contrib_hparams.json, written by fixtures/tf1/contrib_hparams.py).

Not ported: the `hparam_def` protocol buffer (`HParamDef`, `to_proto` / `from_proto`), which needs
TF1's proto module; passing one, `to_proto()` and `HParams.from_proto()` raise NotImplementedError
that says so (the migration reports `HParams.from_proto`, TF2N751). `model_structure` is kept as TF1 kept it
(`get_model_structure`).
"""

from __future__ import annotations

import json
import numbers
import re

__all__ = ["HParams"]

_NO_PROTO = ("tf2norm.replacements.HParams has no {} (TF1's HParamDef protocol buffer went with tf.contrib); "
             "serialise with to_json() / parse_json() instead")

# TF 1.15's PARAM_RE, verbatim.
_PARAM_RE = re.compile(r"""
  (?P<name>[a-zA-Z][\w\.]*)      # variable name: "var" or "x"
  (\[\s*(?P<index>\d+)\s*\])?  # (optional) index: "1" or None
  \s*=\s*
  ((?P<val>[^,\[]*)            # single value: "a" or None
   |
   \[(?P<vals>[^\]]*)\])       # list of values: None or "1,2,3"
  ($|,\s*)""", re.VERBOSE)


def _parse_fail(name, var_type, value, values):
    raise ValueError(f"Could not parse hparam '{name}' of type '{var_type.__name__}' with value '{value}' in {values}")


def _reuse_fail(name, values):
    raise ValueError(f"Multiple assignments to variable '{name}' in {values}")


def _process_scalar_value(name, parse_fn, var_type, m_dict, values, results):
    """`name=v` or `name[i]=v`: into `results` (a dict {index: value} for an indexed name)."""
    try:
        parsed = parse_fn(m_dict["val"])
    except ValueError:
        _parse_fail(name, var_type, m_dict["val"], values)
    if not m_dict["index"]:
        if name in results:
            _reuse_fail(name, values)
        results[name] = parsed
    else:
        if name in results:
            if not isinstance(results.get(name), dict):
                _reuse_fail(name, values)
        else:
            results[name] = {}
        index = int(m_dict["index"])
        if index in results[name]:
            _reuse_fail(f"{name}[{index}]", values)
        results[name][index] = parsed


def _process_list_value(name, parse_fn, var_type, m_dict, values, results):
    """`name=[v1,v2]`: a list into `results`."""
    if m_dict["index"] is not None:
        raise ValueError("Assignment of a list to a list index.")
    elements = filter(None, re.split("[ ,]", m_dict["vals"]))
    if name in results:
        _reuse_fail(name, values)
    try:
        results[name] = [parse_fn(e) for e in elements]
    except ValueError:
        _parse_fail(name, var_type, m_dict["vals"], values)


def _cast_to_type_if_compatible(name, param_type, value):
    """`value` as `param_type`, with TF1's rules: ValueError where the types are incompatible."""
    fail_msg = f"Could not cast hparam '{name}' of type '{param_type}' from value {value!r}"
    if type(value) == param_type:  # noqa: E721  (TF1's exact-type test)
        return value
    if issubclass(param_type, type(None)):
        return value
    if issubclass(param_type, (str, bytes)) and not isinstance(value, (str, bytes)):
        raise ValueError(fail_msg)
    if issubclass(param_type, bool) != isinstance(value, bool):
        raise ValueError(fail_msg)
    if issubclass(param_type, numbers.Integral) and not isinstance(value, numbers.Integral):
        raise ValueError(fail_msg)
    if issubclass(param_type, numbers.Number) and not isinstance(value, numbers.Number):
        raise ValueError(fail_msg)
    return param_type(value)


def parse_values(values, type_map, ignore_unknown=False):
    """TF 1.15's `hparam.parse_values`: a `name=value,...` string as {name: value, list or {index: value}}."""
    results: dict = {}
    pos = 0
    while pos < len(values):
        m = _PARAM_RE.match(values, pos)
        if not m:
            raise ValueError(f"Malformed hyperparameter value: {values[pos:]}")
        pos = m.end()
        m_dict = m.groupdict()
        name = m_dict["name"]
        if name not in type_map:
            if ignore_unknown:
                continue
            raise ValueError(f"Unknown hyperparameter type for {name}")
        type_ = type_map[name]
        if type_ is bool:
            def parse(value, name=name, type_=type_):
                if value in ["true", "True"]:
                    return True
                if value in ["false", "False"]:
                    return False
                try:
                    return bool(int(value))
                except ValueError:
                    _parse_fail(name, type_, value, values)
        else:
            parse = type_
        if m_dict["val"] is not None:
            _process_scalar_value(name, parse, type_, m_dict, values, results)
        elif m_dict["vals"] is not None:
            _process_list_value(name, parse, type_, m_dict, values, results)
        else:
            _parse_fail(name, type_, "", values)
    return results


class HParams:
    """TF 1.15's `tf.contrib.training.HParams` (see the module docstring)."""

    def __init__(self, hparam_def=None, model_structure=None, **kwargs):
        self._hparam_types: dict = {}
        self._model_structure = model_structure
        if hparam_def:
            raise NotImplementedError(
                "tf2norm.replacements.HParams does not read an HParamDef protocol buffer (hparam_def=); pass the "
                "values as keyword arguments")
        for name, value in kwargs.items():
            self.add_hparam(name, value)

    def add_hparam(self, name, value):
        """Adds a hyperparameter; its type is its value's (a list's: its first element's)."""
        if getattr(self, name, None) is not None:
            raise ValueError(f"Hyperparameter name is reserved: {name}")
        if isinstance(value, (list, tuple)):
            if not value:
                raise ValueError(f"Multi-valued hyperparameters cannot be empty: {name}")
            self._hparam_types[name] = (type(value[0]), True)
        else:
            self._hparam_types[name] = (type(value), False)
        setattr(self, name, value)

    def set_hparam(self, name, value):
        """Sets an existing hyperparameter (KeyError if unknown), cast to its type (ValueError if not castable)."""
        param_type, is_list = self._hparam_types[name]
        if isinstance(value, list):
            if not is_list:
                raise ValueError(f"Must not pass a list for single-valued parameter: {name}")
            setattr(self, name, [_cast_to_type_if_compatible(name, param_type, v) for v in value])
        else:
            if is_list:
                raise ValueError(f"Must pass a list for multi-valued parameter: {name}.")
            setattr(self, name, _cast_to_type_if_compatible(name, param_type, value))

    def del_hparam(self, name):
        """Removes a hyperparameter; nothing if it is not there."""
        if hasattr(self, name):
            delattr(self, name)
            del self._hparam_types[name]

    def parse(self, values):
        """Overrides hyperparameters from a `name=value,...` string (see the module docstring); returns self."""
        type_map = {name: param_type for name, (param_type, _) in self._hparam_types.items()}
        return self.override_from_dict(parse_values(values, type_map))

    def override_from_dict(self, values_dict):
        """`set_hparam` for each item; returns self."""
        for name, value in values_dict.items():
            self.set_hparam(name, value)
        return self

    def set_from_map(self, values_map):
        """TF1's deprecated name of `override_from_dict`."""
        return self.override_from_dict(values_dict=values_map)

    def set_model_structure(self, model_structure):
        self._model_structure = model_structure

    def get_model_structure(self):
        return self._model_structure

    def to_proto(self, export_scope=None):
        """Not ported (TF1's HParamDef protocol buffer went with tf.contrib): raises NotImplementedError."""
        raise NotImplementedError(_NO_PROTO.format("to_proto()"))

    @classmethod
    def from_proto(cls, hparam_def, import_scope=None):
        """Not ported (TF1's HParamDef protocol buffer went with tf.contrib): raises NotImplementedError."""
        raise NotImplementedError(_NO_PROTO.format("from_proto()"))

    def to_json(self, indent=None, separators=None, sort_keys=False):
        """The values as JSON (`json.dumps` of `values()`)."""
        return json.dumps(self.values(), indent=indent, separators=separators, sort_keys=sort_keys)

    def parse_json(self, values_json):
        """Overrides hyperparameters from a JSON object; returns self."""
        return self.override_from_dict(json.loads(values_json))

    def values(self):
        """{name: value} of every hyperparameter."""
        return {n: getattr(self, n) for n in self._hparam_types}

    def get(self, key, default=None):
        """The value of `key` if it exists, else `default` (a default of another type: ValueError, as TF1)."""
        if key in self._hparam_types:
            if default is not None:
                param_type, is_param_list = self._hparam_types[key]
                type_str = f"list<{param_type}>" if is_param_list else str(param_type)
                fail_msg = f"Hparam '{key}' of type '{type_str}' is incompatible with default={default}"
                is_default_list = isinstance(default, list)
                if is_param_list != is_default_list:
                    raise ValueError(fail_msg)
                try:
                    if is_default_list:
                        for value in default:
                            _cast_to_type_if_compatible(key, param_type, value)
                    else:
                        _cast_to_type_if_compatible(key, param_type, default)
                except ValueError as e:
                    raise ValueError(f"{fail_msg}. {e}") from None
            return getattr(self, key)
        return default

    def __contains__(self, key):
        return key in self._hparam_types

    def __str__(self):
        values = self.values()
        return ",".join(f"{key}={values[key]}" for key in values)

    def __repr__(self):
        return f"{type(self).__name__}({sorted(self.values().items())})"
