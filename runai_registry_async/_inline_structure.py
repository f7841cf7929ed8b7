"""Structure functions with the scalar checks written inline, for the converter.

cattrs' generated function calls one hook per field and passes optional fields as
``**kwargs``: about thirty Python calls for one registry. The function generated here
checks a ``str``/``bool``/``int`` field (nullable or not) in place, reads an optional
field with ``o.get``, calls a hook only for the other types (enums, dates, nested
classes, lists) and builds the instance with positional arguments. The rules are the
converter's own, and a test holds these functions to cattrs' (``_compiled(inline=False)``):
both accept and reject the same documents. The source is registered in ``linecache``.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable
from typing import Any

import attrs

#: Scalars checked inline: the JSON value's type must be exactly this (``True`` is no int).
INLINE_SCALARS = (str, bool, int)


class Mismatch(ValueError):
    """The document does not fit; ``_converter.problems`` says how."""


def inline_structure_fn(
    cls: type[Any],
    hook_for: Callable[[Any], Callable[[Any, Any], Any]],
    key_for: Callable[[str], str],
    optional_inner: Callable[[Any], Any],
) -> Callable[[Any, Any], Any] | None:
    """The structure function of attrs class ``cls``, or None where cattrs' is needed.

    ``hook_for(type)`` gives the converter's hook for a type, ``key_for(name)`` the JSON
    key of a field, ``optional_inner(type)`` X for ``X | None`` (else None).
    """
    fields = attrs.fields(attrs.resolve_types(cls))
    if any(not a.init or a.kw_only or isinstance(a.default, attrs.Factory) for a in fields):  # type: ignore[arg-type]
        return None
    scope: dict[str, Any] = {"cls": cls, "Mismatch": Mismatch}
    lines = ["def structure(o, _):", "    if type(o) is not dict:", "        raise Mismatch"]
    for i, a in enumerate(fields):
        key, value = repr(key_for(a.name)), f"v{i}"
        inner = optional_inner(a.type)
        kind = a.type if inner is None else inner
        nullable = inner is not None
        if a.default is attrs.NOTHING:
            lines.append(f"    {value} = o[{key}]")
        elif a.default is None and nullable:
            lines.append(f"    {value} = o.get({key})")  # absent and null are both None
        else:
            scope[f"d{i}"], scope[f"h{i}"], scope[f"t{i}"] = a.default, hook_for(a.type), a.type
            lines.append(f"    {value} = h{i}(o[{key}], t{i}) if {key} in o else d{i}")
            continue
        if kind in INLINE_SCALARS:
            scope[f"k{i}"] = kind
            wrong = f"type({value}) is not k{i}"
            check = f"{value} is not None and {wrong}" if nullable else wrong
            lines.append(f"    if {check}:")
            lines.append("        raise Mismatch")
        else:
            scope[f"h{i}"], scope[f"t{i}"] = hook_for(kind), kind
            call = f"h{i}({value}, t{i})"
            if nullable:
                lines.append(f"    if {value} is not None:")
                lines.append(f"        {value} = {call}")
            else:
                lines.append(f"    {value} = {call}")
    lines.append(f"    return cls({', '.join(f'v{i}' for i in range(len(fields)))})")
    source = "\n".join(lines) + "\n"
    filename = f"<inline structure {cls.__module__}.{cls.__qualname__}>"
    # Registered, as attrs registers its generated methods: a traceback or a debugger
    # stepping into the function shows its source.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # The source is built above from field names and types only, never from input.
    exec(compile(source, filename, "exec"), scope)
    function: Callable[[Any, Any], Any] = scope["structure"]
    return function
