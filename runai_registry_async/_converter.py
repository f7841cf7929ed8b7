"""The one cattrs converter: snake_case attrs fields <-> the spec's camelCase JSON.

Reading is tolerant (unknown keys ignored, unknown enum values kept as pseudo-members);
writing omits optional fields left as None. Decoding failures become ``DecodeError``
naming the JSON path that failed.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from collections.abc import Callable
from datetime import datetime, timezone
from enum import Enum
from typing import Any, TypeVar

import attrs
import cattrs
import orjson
from cattrs.errors import IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.orjson import make_converter
from cattrs.v import format_exception

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
else:  # pragma: no cover - Python 3.10's fromisoformat knows no "Z"

    def _parse_iso(value: str) -> datetime:
        if value.endswith(("Z", "z")):
            value = value[:-1] + "+00:00"
        return datetime.fromisoformat(value)


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
        for start in range(0, len(items), _JOIN_CHUNK):
            "".join(items[start : start + _JOIN_CHUNK])
    except TypeError:
        return next(i for i, item in enumerate(items) if type(item) is not str)
    return None


def _structure_str_list(value: Any, _: Any) -> list[str]:
    # Checked in place, not copied.
    if type(value) is not list:
        raise WrongType(f"expected a list, got {type(value).__name__}")
    try:
        if len(value) <= _JOIN_CHUNK:  # most lists: checked in one call
            "".join(value)
            return value
    except TypeError:
        pass
    index = first_non_string(value)
    if index is None:
        return value
    wrong = WrongType(f"expected a string, got {type(value[index]).__name__}")
    note = IterableValidationNote(f"Structuring list[str] @ index {index}", index, str)
    wrong.__notes__ = [note]  # type: ignore[attr-defined]  # (add_note() needs 3.11)
    raise IterableValidationError("While structuring list[str]", [wrong], list[str])


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


def _compiled(*, detailed: bool) -> cattrs.Converter:
    """A converter with this module's rules; ``detailed`` adds cattrs' bookkeeping of
    where each problem is (the JSON path), at a cost on every field."""
    conv = make_converter(forbid_extra_keys=False, detailed_validation=detailed)

    def structure_attrs(cls: type[Any]) -> Callable[[Any, Any], Any]:
        if not detailed:
            inline = inline_structure_fn(cls, conv.get_structure_hook, _camel, _optional_inner)
            if inline is not None:
                return inline
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
    conv.register_structure_hook_func(lambda tp: tp == list[str], _structure_str_list)
    for kind in _SCALARS:
        conv.register_structure_hook(kind, _strict_scalar(kind))
    conv.register_structure_hook_factory(
        lambda tp: _optional_inner(tp) is not None, structure_optional
    )
    return conv


#: The one set of rules, compiled to pass each field straight to its class.
converter = _compiled(detailed=False)
# The same rules with cattrs' bookkeeping, run only on a body that already failed, to
# name the JSON path of every problem: valid bodies (nearly all) never pay for it.
_explaining = _compiled(detailed=True)


_ATTRIBUTE_SEGMENT = re.compile(r"\.([a-z0-9_]+)")


def _wire_path(message: str) -> str:
    text, at, where = message.rpartition(" @ ")
    return f"{text}{at}{_ATTRIBUTE_SEGMENT.sub(lambda m: '.' + _camel(m.group(1)), where)}"


def _describe(exc: BaseException, tp: type | None) -> str:
    if isinstance(exc, WrongType):
        return str(exc)
    return format_exception(exc, tp)


def describe_structure_error(exc: BaseException, path: str = "$") -> str:
    """A short, path-naming description of a cattrs failure, e.g. ``$.meta.createdAt``."""
    if isinstance(exc, cattrs.BaseValidationError):
        # Paths name attributes; the hook factory renames each one the same way, so
        # applying it to every segment gives the wire path ($.meta.createdAt).
        messages = [
            _wire_path(message)
            for message in cattrs.transform_error(exc, path=path, format_exception=_describe)
        ]
        shown = "; ".join(messages[:3])
        more = len(messages) - 3
        return shown + (f" (+{more} more)" if more > 0 else "")
    return f"{type(exc).__name__}: {exc} @ {path}"


# (The inline functions' Mismatch is a ValueError.)
_STRUCTURE_ERRORS = (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError)


def _schema_error(exc: BaseException, path: str, operation: str) -> DecodeError:
    reason = describe_structure_error(exc, path)
    return DecodeError(
        f"{operation}: response does not match the schema: {reason}", operation=operation
    )


# Every DecodeError below is raised after its ``except`` block: raised inside, it would
# keep cattrs' or orjson's exception (which holds the body) as its __context__.


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


def _explained(data: Any, cls: type, path: str, operation: str) -> DecodeError:
    """The error for data that failed to structure, with the path of what was wrong."""
    try:
        _explaining.structure(data, cls)
    except _STRUCTURE_ERRORS as exc:
        error = _schema_error(exc, path, operation)
    else:  # pragma: no cover - both compile the same rules
        error = DecodeError(f"{operation}: response does not match the schema", operation=operation)
    return error


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
