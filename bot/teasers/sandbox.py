"""The Jinja2 sandbox teaser templates run in: plain data only, and every render bounded.

Templates are user-editable files, so they are hostile input like a post. Jinja's
`ImmutableSandboxedEnvironment` blocks `_private` attributes and mutating `list`/`dict`/`set`
methods, but it lets any other public attribute through and bounds neither time nor memory. This
environment adds:

* **An allowlist of attributes.** Values a template meets are plain data built for it
  (`bot.teasers.view`) and Jinja's own helpers. On strings, numbers, dates, lists and dicts only
  the harmless attributes listed in `_ALLOWED` exist (`upper`, `strftime`, `items`, ...); every
  other object, a type, a module, a function, a path, has none. Anything else is a
  `SecurityError` naming the file and line.
* **Limits on every step that can grow** (`RenderLimitError`, also a template error): a created
  value (string, list, dict; nested data counted in full, so `[a, a]` doubling in a loop is caught
  before it is printed) holds at most `MAX_SIZE` characters/items; a number at most
  `MAX_INT_BITS` bits; `range` at most `MAX_SIZE` items; output at most `MAX_OUTPUT` characters;
  loop iterations, calls and filters at most `MAX_STEPS`; characters created at most
  `MAX_CREATED`; calls nest at most `MAX_CALL_DEPTH` deep; and the renders of one teaser stop
  after `RENDER_SECONDS` together, whatever they do. Operations that would build a huge value in
  one go are checked *before* they run: `'x' * n`, `n ** m`, `%` and `format` widths, `center`,
  `indent`, `join`, `replace`, `wordwrap`, `batch`, `slice`, `lipsum`.

The limits sit in the environment's hooks: `call`, `call_binop`, the attribute lookup, `finalize`
(every `{{ }}`), every filter, and a code generator that routes loops, list/tuple/dict literals,
`~` and static text through them. Compile time cannot run template code either: binary operators
are intercepted and filters take the context, so Jinja folds no constant expression with them.
"""

from __future__ import annotations

import re
import time as _time
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from functools import partial, update_wrapper, wraps
from typing import Any, Final

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import (
    BlockReference,
    LoopContext,
    Macro,
    TemplateReference,
    Undefined,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import Cycler, Joiner, Namespace, generate_lorem_ipsum, pass_context
from markupsafe import EscapeFormatter, Markup, soft_str

__all__ = [
    "MAX_CALL_DEPTH",
    "MAX_CREATED",
    "MAX_INT_BITS",
    "MAX_OUTPUT",
    "MAX_SIZE",
    "MAX_STEPS",
    "RENDER_SECONDS",
    "RenderLimitError",
    "TeaserSandbox",
    "render_budget",
    "time_limit",
]

#: Characters of a created string, or characters + items of a created list/tuple/dict.
MAX_SIZE: Final = 100_000
#: Characters a render may output (a teaser is at most 4096 visible characters).
MAX_OUTPUT: Final = 100_000
#: Loop iterations, calls and filter applications in one render.
MAX_STEPS: Final = 200_000
#: Characters (and items) created in one render, all values together.
MAX_CREATED: Final = 20_000_000
#: Macros, `caller()` and recursive loops nested in one another.
MAX_CALL_DEPTH: Final = 50
#: Levels of lists/dicts inside one another in a created value.
MAX_NESTING: Final = 100
#: Bits of an integer (Python prints at most 4300 digits, about 14,300 bits, anyway).
MAX_INT_BITS: Final = 65_536
#: Wall-clock seconds one render may take, whatever it spends them on.
RENDER_SECONDS: Final = 2.0
_LIPSUM_PARAGRAPHS: Final = 20
_LIPSUM_WORDS: Final = 200


class RenderLimitError(SecurityError):
    """A template tried to grow past one of the limits above."""


# --- the per-render budget ---------------------------------------------------------------------


@dataclass(slots=True)
class _Budget:
    steps: int = MAX_STEPS
    output: int = MAX_OUTPUT
    created: int = MAX_CREATED
    depth: int = 0
    deadline: float = field(default_factory=lambda: _DEADLINE.get() or _deadline())

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise RenderLimitError(f"more than {MAX_STEPS} loop iterations, calls and filters")
        if not self.steps & 0x3F and _time.monotonic() > self.deadline:
            raise RenderLimitError(f"rendering took longer than {RENDER_SECONDS:g} s")

    def emit(self, size: int) -> None:
        self.output -= size
        if self.output < 0:
            raise RenderLimitError(f"output longer than {MAX_OUTPUT} characters")

    def create(self, size: int) -> None:
        self.created -= size
        if self.created < 0:
            raise RenderLimitError(f"more than {MAX_CREATED} characters created in one render")


_BUDGET: ContextVar[_Budget | None] = ContextVar("newsbot_render_budget", default=None)
_DEADLINE: ContextVar[float | None] = ContextVar("newsbot_render_deadline", default=None)


def _deadline() -> float:
    return _time.monotonic() + RENDER_SECONDS


@contextmanager
def render_budget() -> Iterator[None]:
    """Bound one render: the counters are per render; the clock is shared with the renders of
    an enclosing `time_limit`."""
    token = _BUDGET.set(_Budget())
    try:
        yield
    finally:
        _BUDGET.reset(token)


@contextmanager
def time_limit() -> Iterator[None]:
    """One `RENDER_SECONDS` for every render inside (fitting a teaser renders it several times,
    and once more per dropped hashtag: a slow template must not get that many clocks)."""
    if _DEADLINE.get() is not None:
        yield
        return
    token = _DEADLINE.set(_deadline())
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _step() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.step()


# --- sizes -------------------------------------------------------------------------------------

_CONTAINERS: Final = (list, tuple, dict, set, frozenset, Cycler, Namespace)


def _children(value: object) -> Iterable[object]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield item
    elif isinstance(value, Cycler):
        yield from value.items
    elif isinstance(value, Namespace):
        attrs = object.__getattribute__(value, "_Namespace__attrs")
        yield from attrs.values()
    else:
        yield from value  # type: ignore[attr-defined]


def measure(value: object) -> int:
    """Characters + items of `value` as if every shared part were copied (what printing it,
    comparing it or hashing it costs); stops at the first part over `MAX_SIZE`."""
    return _measure(value, {}, 0)


def _measure(value: object, memo: dict[int, int], depth: int) -> int:
    if isinstance(value, str):
        return len(value) + 1
    if not isinstance(value, _CONTAINERS):
        return 1
    key = id(value)
    known = memo.get(key)
    if known is not None:
        return known  # a part seen before (0 while it is being measured: a cycle)
    if depth >= MAX_NESTING:
        raise RenderLimitError(f"a value nested deeper than {MAX_NESTING} levels")
    memo[key] = 0
    total = 1
    for child in _children(value):
        total += _measure(child, memo, depth + 1)
        if total > MAX_SIZE:
            raise RenderLimitError(f"a value of more than {MAX_SIZE} characters and items")
    memo[key] = total
    return total


def _created(value: Any) -> Any:
    """Check a value the template just made, and charge it to the render."""
    if isinstance(value, str):
        size = len(value)
        if size > MAX_SIZE:
            raise RenderLimitError(f"a string of more than {MAX_SIZE} characters")
    elif isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > MAX_INT_BITS:
            raise RenderLimitError(f"an integer of more than {MAX_INT_BITS} bits")
        return value
    elif isinstance(value, _CONTAINERS):
        size = measure(value)
    else:
        return value
    budget = _BUDGET.get()
    if budget is not None:
        budget.create(size)
    return value


def _limit(what: str, value: int, limit: int = MAX_SIZE) -> None:
    if value > limit:
        raise RenderLimitError(f"{what} {value} is over the limit of {limit}")


# --- operations checked before they run ----------------------------------------------------------

_SEQUENCES: Final = (str, list, tuple)
# One printf-style conversion: `%%`, or `%(key)-08.3f` with `*` widths refused below.
_PERCENT_SPEC: Final = re.compile(r"%(?:%|(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z])")


def _check_mul(left: object, right: object) -> None:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, _SEQUENCES) and isinstance(count, int):
            unit = len(seq) if isinstance(seq, str) else measure(seq)
            _limit("a repeated value of size", unit * max(count, 0))


def _check_pow(base: object, exponent: object) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        _limit("a power of", exponent * abs(base).bit_length(), MAX_INT_BITS)


def _check_percent(fmt: str, args: object) -> None:
    """`fmt % args` creates at most the format plus, per conversion, its width or its argument."""
    specs = _PERCENT_SPEC.findall(fmt)
    for width, precision in specs:
        if "*" in (width, precision):
            raise RenderLimitError("a `*` width in a % format is not allowed")
        _limit("a % format width of", int(width or 0))
        _limit("a % format precision of", int(precision or 0))
    if isinstance(args, dict):  # `%(key)s` may use one value any number of times
        largest = max((measure(v) for v in args.values()), default=0)
        _limit("a % format result of about", len(fmt) + len(specs) * 4 * largest)
    else:
        _limit("a % format result of about", len(fmt) + 4 * measure(args))


_SPEC_NUMBER: Final = re.compile(r"\d+")


class _CappedFormatter(SandboxedFormatter):
    """`str.format` in the sandbox, with widths capped and the result counted as it grows."""

    _total = 0

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self._total = 0  # per call: a template may keep `'{}'.format` and call it again
        return super().vformat(format_string, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> Any:
        for number in _SPEC_NUMBER.findall(format_spec):
            _limit("a format width of", int(number))
        out = super().format_field(value, format_spec)
        self._total += len(out)
        _limit("a format result of", self._total)
        return out


class _CappedEscapeFormatter(_CappedFormatter, EscapeFormatter):
    pass


def _capped_replace(owner: str, old: str, new: str, count: int = -1) -> str:
    text, old, new = soft_str(owner), soft_str(old), soft_str(new)
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    _limit("a replace result of", len(text) + hits * max(len(new) - len(old), 0))
    return owner.replace(old, new, -1 if count is None else count)


def _capped_join(owner: str, items: Iterable[object]) -> str:
    listed = list(items)
    _limit("a join result of at least", len(owner) * max(len(listed) - 1, 0))
    return owner.join(listed)  # type: ignore[arg-type]


def _safe_range(*args: int) -> range:
    numbers = range(*args)
    _limit("a range of", len(numbers))
    return numbers


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    _limit("lipsum paragraphs", n, _LIPSUM_PARAGRAPHS)
    _limit("lipsum words per paragraph", max, _LIPSUM_WORDS)
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


# --- filters -----------------------------------------------------------------------------------


def _center(value: object, width: int = 80) -> str:
    _limit("a center width of", width)
    return soft_str(value).center(width)


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    text = soft_str(s)
    unit = len(width) if isinstance(width, str) else width
    _limit("an indented result of about", len(text) + (text.count("\n") + 1) * max(unit, 0))
    return jinja2.filters.do_indent(text, width, first, blank)


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    _check_percent(soft_str(value), kwargs or args)
    return jinja2.filters.do_format(value, *args, **kwargs)


def _join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    items = list(value)
    _limit("a join result of at least", len(soft_str(d)) * max(len(items) - 1, 0))
    return jinja2.filters.sync_do_join(eval_ctx, items, d, attribute)


def _replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
    text, old_text, new_text = soft_str(s), soft_str(old), soft_str(new)
    hits = text.count(old_text) if old_text else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    _limit("a replace result of", len(text) + hits * max(len(new_text) - len(old_text), 0))
    return jinja2.filters.do_replace(eval_ctx, s, old, new, count)


def _wordwrap(
    environment: Any,
    s: str,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    text = soft_str(s)
    separator = environment.newline_sequence if wrapstring is None else soft_str(wrapstring)
    lines = 2 * len(text) // max(int(width), 1) + text.count("\n") + 1
    _limit("a wrapped result of about", len(text) + lines * len(separator))
    return jinja2.filters.do_wordwrap(
        environment, s, width, break_long_words, wrapstring, break_on_hyphens
    )


def _batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
    _limit("a batch size of", linecount)
    return jinja2.filters.do_batch(value, linecount, fill_with)


def _slice(value: Iterable[Any], slices: int, fill_with: Any = None) -> Iterator[list[Any]]:
    _limit("a slice count of", slices)
    return jinja2.filters.sync_do_slice(list(value), slices, fill_with)


# Replacements that check their arguments first; the pass_* marker says what Jinja hands them.
_CHECKED_FILTERS: Final[dict[str, Callable[..., Any]]] = {
    "center": _center,
    "indent": _indent,
    "format": _format,
    "join": jinja2.pass_eval_context(_join),
    "replace": jinja2.pass_eval_context(_replace),
    "wordwrap": jinja2.pass_environment(_wordwrap),
    "batch": _batch,
    "slice": _slice,
}


def _guard_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    """Count the filter as a step and check what it creates. Every guarded filter takes the
    context, which also stops Jinja from running it at compile time on constant arguments."""
    kind = getattr(getattr(func, "jinja_pass_arg", None), "name", None)

    @pass_context
    @wraps(func)
    def guarded(context: Any, *args: Any, **kwargs: Any) -> Any:
        _step()
        if kind == "context":
            result = func(context, *args, **kwargs)
        elif kind == "eval_context":
            result = func(context.eval_ctx, *args, **kwargs)
        elif kind == "environment":
            result = func(context.environment, *args, **kwargs)
        else:
            result = func(*args, **kwargs)
        return _created(result)

    return guarded


# --- attributes --------------------------------------------------------------------------------

_STR_METHODS: Final = frozenset(
    [
        "capitalize", "casefold", "count", "endswith", "find", "format", "format_map", "index",
        "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
        "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "lower", "lstrip",
        "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rpartition",
        "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title",
        "upper",
    ]
)
_NUMBER_ATTRS: Final = frozenset(
    [
        "real", "imag", "numerator", "denominator", "conjugate", "bit_length", "is_integer",
    ]
)
_DATE_ATTRS: Final = frozenset(
    [
        "year", "month", "day", "hour", "minute", "second", "microsecond", "tzinfo", "fold",
        "strftime", "isoformat", "weekday", "isoweekday", "isocalendar", "date", "time", "timetz",
        "timestamp", "utcoffset", "tzname", "dst", "ctime", "toordinal", "replace", "astimezone",
    ]
)
# Checked in order: bool before int, Markup before str, datetime (a date) before date.
_ALLOWED: Final[tuple[tuple[type | tuple[type, ...], frozenset[str]], ...]] = (
    (Markup, _STR_METHODS | {"escape", "unescape", "striptags"}),
    (str, _STR_METHODS),
    (bool | int | float, _NUMBER_ATTRS),
    (date | time, _DATE_ATTRS),
    (timedelta, frozenset({"days", "seconds", "microseconds", "total_seconds"})),
    (tzinfo, frozenset({"key", "utcoffset", "tzname", "dst"})),
    (dict, frozenset({"get", "items", "keys", "values"})),
    (list | tuple, frozenset({"count", "index", "grouper", "list"})),  # groupby's tuples
)
# Jinja's own helpers keep Jinja's sandbox rules (public, non-mutating attributes).
_JINJA_TYPES: Final = (
    LoopContext, Cycler, Joiner, Namespace, Macro, TemplateReference, BlockReference, Undefined,
    jinja2.environment.TemplateModule,
)
_EXACT_TYPES: Final = frozenset({str, bool, int, float, date, datetime, time, timedelta, dict,
                                 list, tuple, Markup})


def _allowed_attributes(obj: object) -> frozenset[str] | None:
    if type(obj) not in _EXACT_TYPES and not isinstance(obj, tzinfo | tuple):
        return None  # a subclass may add methods; tzinfo subclasses and namedtuples are known
    for kinds, names in _ALLOWED:
        if isinstance(obj, kinds):
            return names
    return None


# --- the environment ---------------------------------------------------------------------------


class _SandboxCodeGenerator(CodeGenerator):
    """Routes what Jinja compiles straight to Python through the environment's checks."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        # `for x in environment.call(context, environment.newsbot_iter, <iterable>)`
        wrapped = node.iter
        already = isinstance(wrapped, nodes.Call) and isinstance(
            wrapped.node, nodes.EnvironmentAttribute
        ) and wrapped.node.name == "newsbot_iter"
        if not already:
            node.iter = nodes.Call(
                nodes.EnvironmentAttribute("newsbot_iter"), [wrapped], [], None, None,
                lineno=wrapped.lineno,
            )
        super().visit_For(node, frame)

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        static = sum(len(c.data) for c in node.nodes if isinstance(c, nodes.TemplateData))
        if static:
            self.writeline(f"environment.newsbot_emit({static})")
        super().visit_Output(node, frame)

    def _checked(self, visit: Callable[[Any, Frame], None], node: Any, frame: Frame) -> None:
        self.write("environment.newsbot_created(")
        visit(node, frame)
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._checked(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._checked(super().visit_Dict, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx == "load":
            self._checked(super().visit_Tuple, node, frame)
        else:  # an assignment target: `{% for a, b in ... %}`
            super().visit_Tuple(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            markup = "context.eval_ctx.volatile"
        else:
            markup = "True" if frame.eval_ctx.autoescape else "False"
        self.write("environment.newsbot_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(f"), {markup})")


def _finalize(value: Any) -> Any:
    """Every `{{ }}` passes here: its size counts against the output limit."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.emit(len(value) if isinstance(value, str) else measure(value))
    return value


class TeaserSandbox(ImmutableSandboxedEnvironment):
    """See the module docstring; `render_budget()` must be active around each render."""

    code_generator_class = _SandboxCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_finalize, **options)
        self.globals["range"] = _safe_range
        self.globals["lipsum"] = _lipsum
        for name, replacement in _CHECKED_FILTERS.items():
            self.filters[name] = replacement
        self.filters = {name: _guard_filter(f) for name, f in self.filters.items()}

    # attributes
    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_"):
            return False
        allowed = _allowed_attributes(obj)
        if allowed is not None:
            return attr in allowed
        if isinstance(obj, _JINJA_TYPES):
            return super().is_safe_attribute(obj, attr, value)
        return False

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        """Fail at once: Jinja's Undefined would only fail when used, and can hide in a list."""
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe."
        )

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`format`, `replace` and `join` of a string, reached as attributes, with limits."""
        if not isinstance(value, types.MethodType | types.BuiltinMethodType):
            return None
        owner = getattr(value, "__self__", None)
        if not isinstance(owner, str):
            return None
        name = value.__name__
        if name == "replace":
            return update_wrapper(partial(_capped_replace, owner), value)
        if name == "join":
            return update_wrapper(partial(_capped_join, owner), value)
        if name not in ("format", "format_map"):
            return None
        formatter: _CappedFormatter
        if isinstance(owner, Markup):
            formatter = _CappedEscapeFormatter(self, escape=owner.escape)
        else:
            formatter = _CappedFormatter(self)
        str_type = type(owner)
        is_map = name == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            return str_type(formatter.vformat(owner, args, kwargs))

        return update_wrapper(wrapper, value)

    # calls and operators
    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.step()
            budget.depth += 1
            if budget.depth > MAX_CALL_DEPTH:
                budget.depth -= 1
                raise RenderLimitError(f"calls nested deeper than {MAX_CALL_DEPTH}")
        try:
            if isinstance(obj, LoopContext) and args:  # `loop(children)` in a recursive loop
                args = (self.newsbot_iter(args[0]), *args[1:])
            result = super().call(context, obj, *args, **kwargs)
        finally:
            if budget is not None:
                budget.depth -= 1
        return _created(result)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _step()
        if operator == "*":
            _check_mul(left, right)
        elif operator == "**":
            _check_pow(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_percent(left, right)
        return _created(self.binop_table[operator](left, right))

    # hooks called by the generated code
    def newsbot_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            _step()
            yield item

    def newsbot_emit(self, size: int) -> None:
        budget = _BUDGET.get()
        if budget is not None:
            budget.emit(size)

    def newsbot_created(self, value: Any) -> Any:
        return _created(value)

    def newsbot_concat(self, parts: tuple[Any, ...], markup: bool) -> str:
        texts: list[str] = []
        total = 0
        html = False
        for part in parts:
            text = soft_str(part)
            html = html or hasattr(text, "__html__")
            total += len(text)
            _limit("a ~ result of", total)
            texts.append(text)
        if markup and html:
            return _created(Markup("").join(texts))
        return _created("".join(texts))

