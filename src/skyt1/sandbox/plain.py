"""Plain data across the boundary between a program under test and the code that judges it.

Only None, bool, int, float, str, and lists, tuples and dicts of them cross; also complex numbers and sets
and frozensets (MBPP's tests pass and expect them). Dict keys and set members must be hashable plain data
(None, bool, int, float, complex, str, and tuples and frozensets of them). Types are checked exactly
(`type(v) is int`): a subclass can forge __eq__, __hash__, __str__ or __abs__, so it is refused like any
other object. The standard library's dict types (Counter, OrderedDict, defaultdict) cross as plain dicts.

Wire form: JSON in which arrays are lists and every JSON object is a tag:
  {"t": [...]} tuple   {"d": [[k, v], ...]} dict   {"s": [...]} set   {"fs": [...]} frozenset
  {"f": "nan" | "inf" | "-inf"} non-finite float   {"c": [re, im]} complex
  {"r": name} (calls to the program only) the program's own value of that name (values built by a
  record's setup code, which runs in the program's process).
`loads` builds fresh values of the exact builtin types from that text; it never calls code of the sender,
so whatever bytes the program's process writes, the judge only ever sees plain data (or a ValueError).

This file uses only the standard library: the sandbox worker inlines it (see worker.py).
"""

import collections as _collections
import json as _json

MAX_DEPTH = 100
_KEY_TYPES = (type(None), bool, int, float, complex, str)
_STDLIB_DICTS = (_collections.Counter, _collections.OrderedDict, _collections.defaultdict)


class NotPlain(TypeError):
    """A value that is not plain data; the message names where it is and what it is."""


def _kind(value) -> str:
    cls = type(value)
    for base in (bool, int, float, complex, str, list, tuple, dict, set, frozenset):
        if issubclass(cls, base):
            return f"a subclass of {base.__name__} ({cls.__name__!s:.60})"
    return f"an instance of {cls.__name__!s:.60}"


def _float(x):
    if x != x:
        return {"f": "nan"}
    if x in (float("inf"), float("-inf")):
        return {"f": "inf" if x > 0 else "-inf"}
    return x


def to_wire(value, where: str = "value", depth: int = 0, ref=None):
    """The JSON-ready wire form of a plain value; NotPlain for anything else (at any depth). `ref`: a
    class whose instances (Remote, in the checker) cross as {"r": their _name}."""
    if depth > MAX_DEPTH:
        raise NotPlain(f"{where:.200} is nested more than {MAX_DEPTH} deep")
    cls = type(value)
    if value is None or cls is bool or cls is str:
        return value
    if cls is int:
        return value
    if cls is float:
        return _float(value)
    if cls is complex:
        return {"c": [_float(value.real), _float(value.imag)]}
    if cls is list:
        return [to_wire(v, f"{where}[{i}]", depth + 1, ref) for i, v in enumerate(value)]
    if cls is tuple:
        return {"t": [to_wire(v, f"{where}[{i}]", depth + 1, ref) for i, v in enumerate(value)]}
    if cls is dict or cls in _STDLIB_DICTS:
        pairs = []
        for k, v in dict.items(value):
            if not _hashable_plain(k, depth + 1):
                raise NotPlain(f"a key of {where:.200} is {_kind(k)}, not plain data")
            pairs.append([to_wire(k, f"{where} key", depth + 1), to_wire(v, f"{where}[{k!r:.40}]", depth + 1, ref)])
        return {"d": pairs}
    if cls is set or cls is frozenset:
        items = []
        for v in (set.__iter__ if cls is set else frozenset.__iter__)(value):
            if not _hashable_plain(v, depth + 1):
                raise NotPlain(f"a member of {where:.200} is {_kind(v)}, not plain data")
            items.append(to_wire(v, f"{where} member", depth + 1))
        return {"s" if cls is set else "fs": items}
    if ref is not None and cls is ref:
        return {"r": value._name}
    raise NotPlain(f"{where:.200} is {_kind(value)}, not plain data "
                   "(only None, bool, int, float, complex, str and lists, tuples, dicts, sets of them cross)")


def _hashable_plain(key, depth: int) -> bool:
    if depth > MAX_DEPTH:
        return False
    if type(key) in _KEY_TYPES:
        return True
    return type(key) in (tuple, frozenset) and all(_hashable_plain(k, depth + 1) for k in key)


def dumps(value, where: str = "value", ref=None) -> str:
    """Plain value -> wire text (NotPlain if it is not plain data, ValueError for an int too long to print)."""
    return _json.dumps(to_wire(value, where, 0, ref), ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def message(tag: str, value, where: str = "value") -> str:
    """The wire text of [tag, value] (the envelope of a reply), naming the value `where` in errors."""
    return _json.dumps([tag, to_wire(value, where)], ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _untag(pairs, resolve=None):
    if len(pairs) != 1:
        raise ValueError("not plain data: an object that is not a tag")
    tag, body = pairs[0]
    if tag == "t" and type(body) is list:
        return tuple(body)
    if tag in ("s", "fs") and type(body) is list:
        if not all(_hashable_plain(v, 0) for v in body):
            raise ValueError("not plain data: a set member that is not hashable plain data")
        return set(body) if tag == "s" else frozenset(body)
    if tag == "c" and type(body) is list and len(body) == 2 and all(type(x) in (int, float) for x in body):
        return complex(*body)
    if tag == "r" and resolve is not None and type(body) is str:
        return resolve(body)
    if tag == "d" and type(body) is list:
        out = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise ValueError("not plain data: a dict entry that is not a [key, value] pair")
            k, v = pair
            if not _hashable_plain(k, 0):
                raise ValueError("not plain data: a dict key that is not hashable plain data")
            out[k] = v
        return out
    if tag == "f" and body in ("nan", "inf", "-inf"):
        return float(body)
    raise ValueError(f"not plain data: unknown tag {tag!r:.20}")


def _no_constant(name):
    raise ValueError(f"not plain data: bare {name}")


_DEFAULT_DIGITS = 4300  # Python's default int digit limit (sys.int_info.default_max_str_digits)


def int_parser(max_digits):
    """json's parse_int for ints of up to max_digits digits, whatever this process's own digit limit is (the
    host keeps Python's default; a profile such as LiveCodeBench's lets the program print 50,000 digits).
    Longer: ValueError, i.e. not plain data."""
    def parse(s):
        digits = len(s) - (s[0] == "-")
        if digits <= _DEFAULT_DIGITS:
            return int(s)
        if digits > max_digits:
            raise ValueError(f"not plain data: an int of {digits} digits (the digit limit is {max_digits})")
        neg, s = s[0] == "-", s.lstrip("-")
        value = 0
        for i in range(0, len(s), 4000):  # int() of each chunk stays under the process's limit
            chunk = s[i:i + 4000]
            value = value * 10 ** len(chunk) + int(chunk)
        return -value if neg else value
    return parse


def loads(text, resolve=None, max_digits=None):
    """Wire text -> a fresh plain value built only from exact builtin types; ValueError if the text is not
    the wire form of plain data. `resolve` (name -> value) is given only in the program's process, to
    turn {"r": name} references back into its own values; the judge's side never accepts them.
    `max_digits`: the longest int accepted (default: this process's own limit, Python's 4300 unless set)."""
    hook = _untag if resolve is None else (lambda pairs: _untag(pairs, resolve))
    extra = {"parse_int": int_parser(max_digits)} if max_digits and max_digits > _DEFAULT_DIGITS else {}
    try:
        return _json.loads(text, object_pairs_hook=hook, parse_constant=_no_constant, **extra)
    except RecursionError:
        raise ValueError("not plain data: nested too deeply") from None
