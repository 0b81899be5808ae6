"""How a received value, or a framework's exception, is shown in an error message."""

from __future__ import annotations

from typing import Any

__all__ = ["describe", "one_line"]


def describe(x: Any) -> str:
    """A short description of what was received, for error messages.

    Examples
    --------
    >>> describe([1, 2])
    '[1, 2] (list)'
    """
    shape = getattr(x, "shape", None)
    if shape is not None and hasattr(x, "dtype"):
        lib = type(x).__module__.split(".")[0]
        return f"a {lib} {type(x).__name__} of shape {tuple(shape)} and dtype {x.dtype}"
    text = " ".join(repr(x).split())
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(x).__name__})"


def one_line(exc: BaseException) -> str:
    """``"Type: message"`` of a framework's exception on one line.

    Multi-line messages keep their first line, except TensorFlow's graph errors
    ("Graph execution error: ... Detected at node ..."), whose last line is the
    one that says what went wrong.

    Examples
    --------
    >>> one_line(ValueError("bad shape\\nmore detail"))
    'ValueError: bad shape'
    """
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    text = lines[-1] if "Graph execution error" in lines[0] else lines[0]
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}"
