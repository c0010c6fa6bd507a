"""pfor's internals: its module, its fallback log messages, the op it is converting, converter rules.

Written against TF 2.21's `tensorflow/python/ops/parallel_for/pfor.py`:
`_pfor_converter_registry` maps an op type to its converter, a converter
receives a `_PforInput` (`.op`, `.input(i)`, `.get_attr(name)`) and returns
`wrap(tensor, is_stacked)`, and a fallback logs "Using a while_loop for
converting <op type> cause <reason>".
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
from types import FrameType
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple

import tensorflow as tf

__all__ = ["pfor_module", "parse_fallback", "converting_op", "converter_rules", "lift_matvec"]

_FALLBACK_RE = re.compile(r"Using a while_loop for converting (\S+) cause (.*)", re.S)


def pfor_module() -> Any:
    """TF's private pfor module, or `None` if this TF build moved it."""
    try:
        from tensorflow.python.ops.parallel_for import pfor  # pylint: disable=g-direct-tensorflow-import
    except ImportError:  # pragma: no cover - depends on the TF build
        return None
    return pfor if isinstance(getattr(pfor, "_pfor_converter_registry", None), dict) else None


def parse_fallback(message: str) -> Optional[Tuple[str, str]]:
    """`(op type, reason)` if `message` is pfor's while_loop fallback log line, else `None`.

    Examples:
      >>> parse_fallback("Using a while_loop for converting StatelessRandomNormalV2 cause no converter.")
      ('StatelessRandomNormalV2', 'no converter')
    """
    match = _FALLBACK_RE.match(message)
    if match is None:
        return None
    return match.group(1), match.group(2).strip().rstrip(".")


def converting_op() -> Any:
    """The op pfor is converting, read from the caller frames (pfor's local `pfor_input`), or `None`."""
    frame: Optional[FrameType] = sys._getframe(1)  # pylint: disable=protected-access
    for _ in range(40):
        if frame is None:
            return None
        pfor_input = frame.f_locals.get("pfor_input")
        if pfor_input is not None and hasattr(pfor_input, "op"):
            return pfor_input.op
        frame = frame.f_back
    return None


# -- converter rules, scoped to one thread's conversion -----------------------------

Rule = Callable[[Any], Any]  # pfor_input -> wrapped output, or None to use TF's converter

_LOCAL = threading.local()  # .stack: the rules of this thread's open scopes
_LOCK = threading.Lock()
_ACTIVE: Dict[str, int] = {}  # op type -> open scopes (all threads) that have a rule for it
_ORIGINAL: Dict[str, Callable] = {}  # op type -> TF's converter, while a dispatcher is installed


def _dispatcher(op_type: str, original: Callable) -> Callable:
    def convert(pfor_input):
        for rules in reversed(getattr(_LOCAL, "stack", ())):
            rule = rules.get(op_type)
            if rule is not None:
                out = rule(pfor_input)
                if out is not None:
                    return out
                break
        return original(pfor_input)

    return convert


@contextlib.contextmanager
def converter_rules(rules: Mapping[str, Rule]) -> Iterator[None]:
    """Apply `rules` (op type -> rule) to the pfor conversions this thread runs in the block.

    A rule returns the converted output, or `None` to leave the op to TF's
    converter. While any thread has a block open for an op type, TF's
    registry entry for it is a dispatcher that calls the rule only from the
    threads that opened such a block and TF's own converter everywhere else;
    when the last block closes, TF's converter is put back. So other code,
    in this thread outside the block or in any other thread, converts as TF
    does.
    """
    pfor = pfor_module()
    # No pfor module (a TF build that moved it): an empty registry, so no rule is installed.
    registry: Dict[str, Any] = pfor._pfor_converter_registry if pfor is not None else {}  # pylint: disable=protected-access
    usable = {k: v for k, v in rules.items() if k in registry}
    with _LOCK:
        for op_type in usable:
            if _ACTIVE.get(op_type, 0) == 0:
                _ORIGINAL[op_type] = registry[op_type]
                registry[op_type] = _dispatcher(op_type, registry[op_type])
            _ACTIVE[op_type] = _ACTIVE.get(op_type, 0) + 1
    stack = _LOCAL.__dict__.setdefault("stack", [])
    stack.append(usable)
    try:
        yield
    finally:
        stack.pop()
        with _LOCK:
            for op_type in usable:
                _ACTIVE[op_type] -= 1
                if _ACTIVE[op_type] == 0:
                    registry[op_type] = _ORIGINAL.pop(op_type)


def lift_matvec(on_rewrite: Callable[[str], None]) -> Rule:
    """A `MatMul` rule: an invariant matrix times a per-example vector as one `[B, k] x [k, m]` matmul.

    pfor's own rule turns `A @ x_i` (`A`: `[m, k]`, `x_i`: `[k, 1]`) into
    `transpose(A @ transpose(x))`, two transposes of a `[B, .]` tensor. When
    the per-example operand is a vector this is the single matmul `x @ A^T`.
    `on_rewrite(op_name)` is called for every op lifted this way.
    """

    def rule(pfor_input):
        a, a_stacked, _ = pfor_input.input(0)
        b, b_stacked, _ = pfor_input.input(1)
        tr_a = pfor_input.get_attr("transpose_a")
        tr_b = pfor_input.get_attr("transpose_b")
        if b_stacked and not a_stacked and b.shape.rank == 3 and b.shape[1 if tr_b else 2] == 1:
            vectors = tf.squeeze(b, axis=1 if tr_b else 2)  # [B, k]
            product = tf.matmul(vectors, a, transpose_b=not tr_a)  # [B, m]
            on_rewrite(pfor_input.op.name)
            return pfor_module().wrap(product[:, :, tf.newaxis], True)
        return None

    return rule
