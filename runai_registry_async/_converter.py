"""The one cattrs converter: snake_case attrs fields <-> the spec's camelCase JSON.

Reading is tolerant (unknown keys ignored, unknown enum values kept as pseudo-members);
writing omits optional fields left as None. Decoding failures become ``DecodeError``
naming the JSON path that failed.
"""

from __future__ import annotations

import itertools
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from enum import Enum
from typing import Any, TypeVar

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.orjson import make_converter

from ._errors import DecodeError
from ._inline_structure import INLINE_SCALARS, inline_structure_fn
from ._models import AssetKind, CredentialKind, DistFramework, Scope

T = TypeVar("T")


class WrongType(ValueError):
    """A JSON value of the wrong type; its message names types, never the value."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


if sys.version_info >= (3, 11):
    _parse_iso = datetime.fromisoformat
else:  # pragma: no cover - Python 3.10's fromisoformat knows no "Z", and wants 3 or 6
    # digits of a second's fraction

    def _parse_iso(value: str) -> datetime:
        if value.endswith(("Z", "z")):
            value = value[:-1] + "+00:00"
        value = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], value, count=1)
        return datetime.fromisoformat(value)

    _FRACTION = re.compile(r"\.([0-9]+)")


def _structure_datetime(value: Any, _: Any) -> datetime:
    if type(value) is not str:
        raise WrongType(f"expected a date-time string, got {type(value).__name__}")
    parsed = _parse_iso(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _unstructure_datetime(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _open_enum_hook(enum: type[Enum]) -> Callable[[Any, Any], Enum]:
    members: dict[Any, Enum] = {m.value: m for m in enum}

    def structure(value: Any, _: Any) -> Enum:
        member = members.get(value) if type(value) is str else None
        if member is not None:
            return member  # a dict lookup: Enum.__call__ costs ten times as much
        if type(value) is not str:
            raise WrongType(f"expected a string, got {type(value).__name__}")
        # An unknown string becomes a pseudo-member (the models' _OpenEnum): servers
        # add scopes and kinds before clients learn them.
        return enum(value)

    return structure


_JOIN_CHUNK = 4096


def first_non_string(items: list[Any]) -> int | None:
    """The index of the first item that is not a ``str``; None if they all are."""
    # Tag lists can hold a million entries. str.join refuses any non-string and is the
    # fastest such check; chunks of it keep the joined copy small.
    try:
        if len(items) <= _JOIN_CHUNK:  # most lists: in one call, no copy
            "".join(items)
        else:
            for start in range(0, len(items), _JOIN_CHUNK):
                "".join(items[start : start + _JOIN_CHUNK])
    except TypeError:
        return next(i for i, item in enumerate(items) if type(item) is not str)
    return None


def _structure_str_list(value: Any, _: Any) -> list[str]:
    # Checked in place, not copied.
    if type(value) is not list:
        raise WrongType(f"expected a list, got {type(value).__name__}")
    index = first_non_string(value)
    if index is None:
        return value
    raise WrongType(f"expected a string, got {type(value[index]).__name__}")


def _strict_scalar(kind: type, *, nullable: bool = False) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Any:
        if type(value) is kind:
            return value
        raise WrongType(f"expected {kind.__name__}, got {type(value).__name__}")

    def structure_nullable(value: Any, _: Any) -> Any:
        if type(value) is kind or value is None:
            return value
        raise WrongType(f"expected {kind.__name__} or null, got {type(value).__name__}")

    return structure_nullable if nullable else structure


_SCALARS = INLINE_SCALARS  # one rule for both converters' checks


def _optional_inner(tp: Any) -> Any:
    """X for an ``X | None`` annotation, else None."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if len(args) == 1 and len(typing.get_args(tp)) == 2 else None


def _compiled(*, inline: bool = True) -> cattrs.Converter:
    """A converter with this module's rules. ``inline=False`` keeps cattrs' own structure
    functions for attrs classes: the reference the tests hold the inline ones to."""
    conv = make_converter(forbid_extra_keys=False)

    def structure_attrs(cls: type[Any]) -> Callable[[Any, Any], Any]:
        if inline:
            function = inline_structure_fn(cls, conv.get_structure_hook, _camel, _optional_inner)
            if function is not None:
                return function
        renames = {a.name: override(rename=_camel(a.name)) for a in attrs.fields(cls)}
        structure_fields = make_dict_structure_fn(cls, conv, **renames)  # type: ignore[arg-type]

        def structure_object(value: Any, _: Any) -> Any:
            # cattrs alone would take a list, or a string without the keys, as an
            # object whose fields are all absent.
            if type(value) is not dict:
                raise WrongType(f"expected an object, got {type(value).__name__}")
            return structure_fields(value, cls)

        return structure_object

    def unstructure_attrs(cls: type[Any]) -> Callable[[Any], Any]:
        overrides = {
            a.name: override(rename=_camel(a.name), omit_if_default=a.default is None)
            for a in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, conv, **overrides)  # type: ignore[arg-type]

    def structure_optional(tp: Any) -> Callable[[Any, Any], Any]:
        # cattrs' generic Optional hook dispatches on every call; binding the inner hook
        # once makes decoding a big registry list about 25% faster.
        inner_type = _optional_inner(tp)
        if inner_type in _SCALARS:
            return _strict_scalar(inner_type, nullable=True)
        inner = conv.get_structure_hook(inner_type)

        def structure(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return structure

    def structure_list(tp: Any) -> Callable[[Any, Any], Any]:
        # cattrs would iterate any iterable: a string or an object as an empty or
        # character-by-character list.
        item_type = _list_item(tp)
        item = conv.get_structure_hook(item_type)

        def structure(value: Any, _: Any) -> list[Any]:
            if type(value) is not list:
                raise WrongType(f"expected a list, got {type(value).__name__}")
            return [item(element, item_type) for element in value]

        return structure

    conv.register_structure_hook_factory(attrs.has, structure_attrs)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_attrs)
    conv.register_structure_hook(datetime, _structure_datetime)
    # Unstructured data is plain JSON types, so it round-trips without orjson in between.
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    # Each str-based enum is registered by name: as a str subclass it would otherwise
    # dispatch to the str hooks.
    for enum in (Scope, AssetKind, CredentialKind, DistFramework):
        conv.register_unstructure_hook(enum, lambda member: member.value)
        conv.register_structure_hook(enum, _open_enum_hook(enum))
    conv.register_structure_hook_factory(lambda tp: _list_item(tp) is not None, structure_list)
    conv.register_structure_hook_func(lambda tp: tp == list[str], _structure_str_list)
    for kind in _SCALARS:
        conv.register_structure_hook(kind, _strict_scalar(kind))
    conv.register_structure_hook_factory(
        lambda tp: _optional_inner(tp) is not None, structure_optional
    )
    return conv


def _list_item(tp: Any) -> Any:
    """X for a ``list[X]`` annotation, else None."""
    if typing.get_origin(tp) is not list:
        return None
    (item,) = typing.get_args(tp)
    return item


#: The one converter.
converter = _compiled()


# Every DecodeError below is raised after its ``except`` block: raised inside, it would
# keep orjson's exception (which holds the body) as its __context__.

_STRUCTURE_ERRORS = (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError)


def structure(data: Any, cls: type[T], *, operation: str, path: str = "$") -> T:
    """Structure decoded JSON into ``cls``; a mismatch raises ``DecodeError``."""
    try:
        return converter.structure(data, cls)
    except _STRUCTURE_ERRORS:
        pass
    raise _explained(data, cls, path, operation)


def body_decoder(cls: type[T]) -> Callable[[bytes, str], T]:
    """``decode(body, operation)``: a JSON body as ``cls``; any mismatch raises ``DecodeError``.

    The structure hook is looked up once here rather than on every response.
    """
    hook = converter.get_structure_hook(cls)

    def decode(body: bytes, operation: str) -> T:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = loads(body, operation=operation)  # raises the error that says why
        try:
            return hook(data, cls)  # type: ignore[no-any-return]
        except _STRUCTURE_ERRORS:
            pass
        raise _explained(data, cls, "$", operation)

    return decode


#: How many problems an error message names at most.
_PROBLEMS_SHOWN = 3


def _explained(data: Any, cls: type, path: str, operation: str) -> DecodeError:
    """The error for data that failed to structure, naming the first problems' paths."""
    found = list(itertools.islice(problems(data, cls, path), _PROBLEMS_SHOWN + 1))
    reason = "; ".join(found[:_PROBLEMS_SHOWN]) or f"does not fit {cls.__name__} @ {path}"
    if len(found) > _PROBLEMS_SHOWN:
        reason += " (and more)"
    return DecodeError(
        f"{operation}: response does not match the schema: {reason}", operation=operation
    )


def problems(data: Any, tp: Any, path: str = "$") -> Iterator[str]:
    """What is wrong with ``data`` as ``tp``, one problem at a time, each with its path
    (``expected str, got int @ $.entries[3].meta.name``).

    Lazy, so a caller that stops after a few stops the work. Each level checks its parts
    with the fast hooks and goes down only into those that fail: the work is linear in
    the data and the memory a few frames, whatever a hostile body holds (no exception
    kept per element, no string taken for a sequence of characters).
    """
    inner = _optional_inner(tp)
    if inner is not None:
        if data is None:
            return
        tp = inner
    if attrs.has(tp):
        yield from _problems_in_object(data, tp, path)
        return
    item_type = _list_item(tp)
    if item_type is None:
        problem = _scalar_problem(data, tp)
        if problem is not None:
            yield f"{problem} @ {path}"
        return
    if type(data) is not list:
        yield f"expected a list, got {type(data).__name__} @ {path}"
        return
    hook = converter.get_structure_hook(item_type)
    for index, item in enumerate(data):
        if item_type is str:  # the common case, checked without a call
            if type(item) is not str:
                yield f"expected a string, got {type(item).__name__} @ {path}[{index}]"
            continue
        try:
            hook(item, item_type)
        except _STRUCTURE_ERRORS:
            yield from problems(item, item_type, f"{path}[{index}]")


def _problems_in_object(data: Any, cls: type, path: str) -> Iterator[str]:
    if type(data) is not dict:
        yield f"expected an object, got {type(data).__name__} @ {path}"
        return
    for field in attrs.fields(attrs.resolve_types(cls)):
        key = _camel(field.name)
        if key in data:
            yield from problems(data[key], field.type, f"{path}.{key}")
        elif field.default is attrs.NOTHING:
            yield f"required field missing @ {path}.{key}"


def _scalar_problem(data: Any, tp: Any) -> str | None:
    try:
        converter.structure(data, tp)
    except WrongType as exc:
        return str(exc)
    except _STRUCTURE_ERRORS:
        # Not the exception's text: it may quote the value.
        return f"invalid {getattr(tp, '__name__', 'value')}"
    return None


def loads(body: bytes, *, operation: str) -> Any:
    """Parse a JSON body; invalid JSON raises ``DecodeError`` naming the reason and byte.

    No text of the body is quoted: a 2xx body holds tags, names and passwords.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        reason = f"{exc.msg} (byte {exc.pos} of {len(body)})"
    raise DecodeError(f"{operation}: response is not JSON: {reason}", operation=operation)


def dumps(obj: Any) -> bytes:
    """Serialise a request object to JSON bytes."""
    return orjson.dumps(converter.unstructure(obj))
