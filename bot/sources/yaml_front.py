"""YAML front matter read with bounds: a few hundred bytes must not become gigabytes.

YAML anchors and aliases (`&a`, `*a`, merge keys `<<: *a`) let a 500-byte file name the same
list nine times, each item naming the previous list nine times: PyYAML shares those objects, so
loading is cheap, but anything that walks the value (building the categories, quoting it in a
reason, rendering `post.extra`) expands it to billions of items. Front matter has no use for that
much data, so the composed node graph is measured first, counting every alias as a full copy of
what it names, and a file whose aliases add more than `MAX_ALIAS_VALUES` values (or that refers
to itself) is refused before anything is built from it. The size of the front matter itself is
bounded by the caller (`MAX_FRONT_MATTER_CHARS` in `front_handler`), and libyaml bounds the
nesting.
"""

from __future__ import annotations

import yaml

from bot.sources.errors import shown

__all__ = ["MAX_ALIAS_VALUES", "FrontMatterTooLargeError", "load_yaml"]

MAX_ALIAS_VALUES = 10_000
"""Most values aliases may add once expanded (a real post uses a handful, if any)."""

try:  # libyaml is ~10x faster; the pure-Python loader gives the same values.
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.SafeLoader


class FrontMatterTooLargeError(ValueError):
    """Valid YAML that expands beyond what a post's front matter can be; the text says why."""


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader whose impossible dates (`date: 2024-13-45`) carry the line they are on."""


def _timestamp(loader: yaml.constructor.SafeConstructor, node: yaml.Node) -> object:
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"impossible date {shown(node.value)!r} ({shown(str(exc))})",
            node.start_mark,
        ) from exc
    except (AttributeError, TypeError) as exc:  # `!!timestamp 'not a date'` matches no form
        raise yaml.constructor.ConstructorError(
            None, None, f"not a date: {shown(node.value)!r}", node.start_mark
        ) from exc


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def load_yaml(raw: str) -> object:
    """The YAML document in `raw` (None when empty), refused when its aliases expand too far.

    Raises what PyYAML raises for invalid YAML, and FrontMatterTooLargeError.
    """
    loader = _Loader(raw)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "*" in raw:  # no alias without a '*': most files skip the walk
            _check_expansion(node, budget=2 * len(raw) + MAX_ALIAS_VALUES)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root: yaml.Node, *, budget: int) -> None:
    """Refuse `root` when expanding its aliases adds more than MAX_ALIAS_VALUES nodes.

    One pass over the distinct nodes (an alias is the very node it names, so each is sized once
    and remembered); no recursion, so any nesting libyaml accepted is walked. `budget` stops the
    walk early: a file has fewer distinct nodes than twice its characters (`{a,b}` is 4 nodes).
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            open_nodes.discard(key)
            sizes[key] = size
            if size > budget:
                break
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise FrontMatterTooLargeError(
                "front matter refers to itself through an alias (*name inside &name)"
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    if max(sizes.values(), default=0) - len(sizes) > MAX_ALIAS_VALUES:
        raise FrontMatterTooLargeError(
            f"front matter aliases (*name) expand to more than {MAX_ALIAS_VALUES:,} extra "
            "values: write the values out instead"
        )
