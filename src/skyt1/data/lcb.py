"""LiveCodeBench test cases: decoding without ever unpickling arbitrary objects.

`private_test_cases` on the hub is JSON, or base64(zlib(pickle(<JSON string>))). A pickle can import
and call anything, so the payload is checked twice before anything is built: every opcode must come
from a list that only builds plain data (str, bytes, numbers, bool, None, list, tuple, dict, set), and
the unpickler that then reads it refuses every global lookup. A payload that tries to import or call
anything stops the stage with a SkyT1Error."""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import pickletools
import zlib

from ..core.errors import SkyT1Error

MAX_DECODED_BYTES = 1 << 30  # a zlib bomb stops here

# Opcodes that build plain data only. Everything else (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST, OBJ,
# NEWOBJ, NEWOBJ_EX, EXT1/2/4, PERSID, BINPERSID, READONLY_BUFFER, NEXT_BUFFER, ...) is refused.
SAFE_OPCODES = frozenset(["PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET", "NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "EMPTY_LIST", "APPEND", "APPENDS", "LIST", "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS", "EMPTY_SET", "ADDITEMS", "FROZENSET"])
PLAIN_TYPES = (str, bytes, bytearray, int, float, bool, type(None), list, tuple, dict, set, frozenset)


class UnsafePayload(SkyT1Error):
    pass


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        raise UnsafePayload(f"pickle payload tries to import {module}.{name}", "refused: only plain data is accepted")

    def persistent_load(self, pid):
        raise UnsafePayload("pickle payload uses a persistent id", "refused: only plain data is accepted")


def check_opcodes(payload: bytes, where: str = "payload") -> None:
    try:
        for op, arg, pos in pickletools.genops(payload):
            if op.name not in SAFE_OPCODES:
                detail = f" {arg!r}" if arg is not None else ""
                raise UnsafePayload(
                    f"{where}: pickle opcode {op.name}{detail} at byte {pos} could import or call code; refused",
                    "only plain data (strings, numbers, lists, dicts) is decoded; the file is corrupt or malicious, "
                    "re-download it from the hub")
    except UnsafePayload:
        raise
    except Exception as e:
        raise SkyT1Error(f"{where}: not a valid pickle ({type(e).__name__}: {e})", "re-download the dataset file")


def safe_unpickle(payload: bytes, where: str = "payload"):
    check_opcodes(payload, where)
    try:
        obj = _DataOnlyUnpickler(io.BytesIO(payload)).load()
    except UnsafePayload as e:
        raise UnsafePayload(f"{where}: {e.cause}", e.fix)
    except Exception as e:
        raise SkyT1Error(f"{where}: pickle payload does not decode ({type(e).__name__}: {e})", "re-download the dataset file")
    _check_plain(obj, where)
    return obj


def _check_plain(obj, where: str) -> None:
    stack = [obj]
    while stack:
        x = stack.pop()
        if not isinstance(x, PLAIN_TYPES):
            raise UnsafePayload(f"{where}: decoded a {type(x).__name__}, not plain data", "refused")
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, (list, tuple, set, frozenset)):
            stack.extend(x)


def _inflate(data: bytes, where: str) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, MAX_DECODED_BYTES)
    except zlib.error as e:
        raise SkyT1Error(f"{where}: private tests are not zlib data ({e})", "re-download the dataset file")
    if d.unconsumed_tail:
        raise SkyT1Error(f"{where}: private tests inflate to more than {MAX_DECODED_BYTES} bytes", "refused")
    return out


def decode_tests(raw, where: str = "private_test_cases") -> list[dict]:
    """Public or private LiveCodeBench tests -> list of {input, output, testtype}."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, list):
        obj = raw
    else:
        text = raw.strip()
        if text[:1] in "[{":
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                raise SkyT1Error(f"{where}: tests are not valid JSON ({e.msg})", "re-download the dataset file")
        else:
            try:
                packed = base64.b64decode(text.encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError) as e:
                raise SkyT1Error(f"{where}: tests are neither JSON nor base64 ({e})", "re-download the dataset file")
            obj = safe_unpickle(_inflate(packed, where), where)
            if isinstance(obj, (bytes, bytearray)):
                obj = obj.decode("utf-8")
            if isinstance(obj, str):
                try:
                    obj = json.loads(obj)
                except json.JSONDecodeError as e:
                    raise SkyT1Error(f"{where}: unpickled text is not JSON ({e.msg})", "re-download the dataset file")
    if not isinstance(obj, list) or not all(isinstance(t, dict) and "input" in t and "output" in t for t in obj):
        raise SkyT1Error(f"{where}: tests must be a list of {{input, output}} objects", "re-download the dataset file")
    return [{"input": str(t["input"]), "output": str(t["output"]), "testtype": str(t.get("testtype", "stdin"))} for t in obj]


def encode_tests(tests: list[dict]) -> str:
    """The hub's encoding (for fixtures): base64(zlib(pickle(json string)))."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode("ascii")
