"""`@struct` and `NamedTuple`: classes declared like a dataclass and like typing's NamedTuple, without
their cost at import (the NamedTuple: see its section below).

`@dataclass` writes each class's `__init__`, `__repr__`, `__eq__`, `__hash__` (and a frozen class's
`__setattr__`) as source text and compiles it when the class is defined: about 0.6 ms a class, and a
handler defines some fifty of them at import (issue 23: the cold start). `@struct` gives a class the
same behaviour from methods written once, here, that read the class's fields at call time: defining
a class costs microseconds, and each call a few more (the methods loop over the fields).

What it keeps of a dataclass, for the options this package uses (`frozen`, `order`; `field()` with
`default`, `default_factory`, `compare`, `repr`, `metadata`):
- `__init__` by position or keyword, in field order, base classes' fields first; defaults and
  default factories; a field without a default after one with a default is refused at definition.
- `__eq__` only between instances of the very same class (a subclass instance is not equal), over
  the fields with `compare=True`; `__hash__` over the same fields when frozen (None otherwise: an
  unfrozen struct is unhashable, as an unfrozen dataclass with eq is).
- `frozen=True`: assigning or deleting any attribute raises `dataclasses.FrozenInstanceError`.
- `order=True`: `<`, `<=`, `>`, `>=` between instances of the same class, as tuples of those fields.
- `__repr__` as a dataclass writes it; `__match_args__`; `copy.replace` (`__replace__`).
- `__dataclass_fields__`, so `dataclasses.fields`, `replace`, `asdict` and `is_dataclass` treat it as
  a dataclass (model.as_event and the tests use them). `tests/unit/test_structs.py` holds all of
  this against a real dataclass, so a Python release that changes what `dataclasses` reads shows
  there.

Annotations are read as written (`from __future__ import annotations`: strings); a `ClassVar[...]`
annotation is not a field. mypy sees a dataclass (`dataclass_transform`).
"""

from __future__ import annotations

import dataclasses
import inspect  # boto3 has imported it already
from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar, dataclass_transform, get_origin, overload

_MISSING: Any = dataclasses.MISSING
_FIELD: Any = getattr(dataclasses, "_FIELD")  # noqa: B009 - the marker `dataclasses.fields()` keeps a field by
_SPEC = "__struct_spec__"  # per class: ((name, default, factory), ...) in __init__ order
_KEYS = "__struct_key__"  # per class: the values __eq__, __hash__ and the order compare (an attrgetter)
_REPRS = "__struct_reprs__"  # per class: the names __repr__ shows
_MUTABLE_DEFAULTS = (list, dict, set)


@overload
def struct[T](cls: type[T], /) -> type[T]: ...


@overload
def struct[T](*, frozen: bool = False, order: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def struct(cls: Any = None, /, *, frozen: bool = False, order: bool = False) -> Any:
    """Make `cls` a struct (see the module's text); `@struct` or `@struct(frozen=True, order=True)`."""
    if cls is None:
        return lambda klass: _make(klass, frozen, order)
    return _make(cls, frozen, order)


def _make(cls: type, frozen: bool, order: bool) -> type:
    fields: dict[str, dataclasses.Field[Any]] = {}
    for base in reversed(cls.__mro__[1:]):
        fields.update(base.__dict__.get("__dataclass_fields__", {}))
    for name, annotation in inspect.get_annotations(cls).items():
        if _is_classvar(annotation):
            continue
        value = cls.__dict__.get(name, _MISSING)
        if isinstance(value, dataclasses.Field):
            spec = value
            if spec.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, spec.default)
        else:
            spec = dataclasses.field(default=value)
        if type(spec.default) in _MUTABLE_DEFAULTS:
            kind = type(spec.default)
            raise ValueError(f"mutable default {kind} for field {name} is not allowed: use default_factory")
        spec.name = name
        spec.type = annotation
        spec._field_type = _FIELD  # type: ignore[attr-defined]
        fields[name] = spec
    init = [f for f in fields.values() if f.init]
    seen_default = ""
    for f in init:
        if f.default is not _MISSING or f.default_factory is not _MISSING:
            seen_default = f.name
        elif seen_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument {seen_default!r}")
    cls.__dataclass_fields__ = fields  # type: ignore[attr-defined]
    setattr(cls, _SPEC, tuple((f.name, f.default, f.default_factory) for f in init))
    keys = [f.name for f in fields.values() if f.compare]
    setattr(cls, _KEYS, attrgetter(*keys) if keys else _no_key)  # attrgetter: one name gives the value, not a tuple
    setattr(cls, _REPRS, tuple(f.name for f in fields.values() if f.repr))
    methods: dict[str, Any] = {
        "__init__": _init,
        "__repr__": _repr,
        "__eq__": _eq,
        "__hash__": _hash if frozen else None,
        "__replace__": _replace,
        "__match_args__": tuple(f.name for f in init),
    }
    if frozen:
        methods.update(__setattr__=_frozen_setattr, __delattr__=_frozen_delattr)
    if order:
        methods.update(__lt__=_lt, __le__=_le, __gt__=_gt, __ge__=_ge)
    if "__eq__" in cls.__dict__ and cls.__dict__.get("__hash__", _MISSING) is None:
        delattr(cls, "__hash__")  # Python's None for a body's own __eq__: not a __hash__ of the body's
    for name, method in methods.items():
        if name not in cls.__dict__:  # a method the class body writes is kept, as a dataclass keeps it
            setattr(cls, name, method)
    return cls


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return annotation is ClassVar or get_origin(annotation) is ClassVar


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = type(self)
    spec = getattr(cls, _SPEC)
    if len(args) > len(spec):
        given = f"{len(spec) + 1} positional arguments but {len(args) + 1} were given"
        raise TypeError(f"{cls.__qualname__}.__init__() takes {given}")
    assign = object.__setattr__
    for index, (name, default, factory) in enumerate(spec):
        if index < len(args):
            if name in kwargs:
                raise TypeError(f"{cls.__qualname__}.__init__() got multiple values for argument {name!r}")
            value = args[index]
        elif name in kwargs:
            value = kwargs.pop(name)
        elif default is not _MISSING:
            value = default
        elif factory is not _MISSING:
            value = factory()
        else:
            raise TypeError(f"{cls.__qualname__}.__init__() missing 1 required argument: {name!r}")
        assign(self, name, value)
    if kwargs:
        raise TypeError(f"{cls.__qualname__}.__init__() got an unexpected keyword argument {next(iter(kwargs))!r}")


def _key(self: Any) -> Any:
    return getattr(type(self), _KEYS)(self)


def _no_key(_: Any) -> tuple[()]:
    return ()


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return self is other or _key(self) == _key(other)


def _hash(self: Any) -> int:
    return hash(_key(self))


def _lt(self: Any, other: Any) -> Any:
    return _key(self) < _key(other) if other.__class__ is self.__class__ else NotImplemented


def _le(self: Any, other: Any) -> Any:
    return _key(self) <= _key(other) if other.__class__ is self.__class__ else NotImplemented


def _gt(self: Any, other: Any) -> Any:
    return _key(self) > _key(other) if other.__class__ is self.__class__ else NotImplemented


def _ge(self: Any, other: Any) -> Any:
    return _key(self) >= _key(other) if other.__class__ is self.__class__ else NotImplemented


def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in getattr(type(self), _REPRS))
    return f"{type(self).__qualname__}({shown})"


def _replace(self: Any, /, **changes: Any) -> Any:
    return dataclasses.replace(self, **changes)


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


# ---------------------------------------------------------------------------------------- NamedTuple
# `typing.NamedTuple` compiles twice for each class it defines: `collections.namedtuple` writes the
# class's `__new__` as source text and evaluates it, and `typing` compiles each field's annotation
# (a string, under `from __future__ import annotations`) into a ForwardRef it never uses here. About
# 0.1 ms a class, some fifty classes at a handler's import. This `NamedTuple` makes the same class
# (a subclass of tuple, with the same `_fields`, `_field_defaults`, `_make`, `_replace`, `_asdict`,
# `__repr__`, `__match_args__`, `__getnewargs__`, `__replace__`, field properties) from methods
# written once. mypy sees typing's NamedTuple. `tests/unit/test_structs.py` holds it against typing's.

_tuplegetter: Any = getattr(__import__("collections"), "_tuplegetter")  # noqa: B009 - namedtuple's own


def _nt_new(cls: Any, *args: Any, **kwargs: Any) -> Any:
    fields = cls._fields
    if not kwargs and len(args) == len(fields):
        return tuple.__new__(cls, args)
    if len(args) > len(fields):
        given = f"{len(fields) + 1} positional arguments but {len(args) + 1} were given"
        raise TypeError(f"{cls.__name__}.__new__() takes {given}")
    values = list(args)
    defaults = cls._field_defaults
    for name in fields[len(args) :]:
        if name in kwargs:
            values.append(kwargs.pop(name))
        elif name in defaults:
            values.append(defaults[name])
        else:
            raise TypeError(f"{cls.__name__}.__new__() missing 1 required positional argument: {name!r}")
    for name in kwargs:
        if name in fields:
            raise TypeError(f"{cls.__name__}.__new__() got multiple values for argument {name!r}")
        raise TypeError(f"{cls.__name__}.__new__() got an unexpected keyword argument {name!r}")
    return tuple.__new__(cls, values)


def _nt_make(cls: Any, iterable: Any) -> Any:
    result = tuple.__new__(cls, iterable)
    if len(result) != len(cls._fields):
        raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(result)}")
    return result


def _nt_replace(self: Any, /, **changes: Any) -> Any:
    result = self._make(map(changes.pop, self._fields, self))
    if changes:
        raise ValueError(f"Got unexpected field names: {list(changes)!r}")
    return result


def _nt_repr(self: Any) -> str:
    shown = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self, strict=True))
    return f"{self.__class__.__name__}({shown})"


def _nt_asdict(self: Any) -> dict[str, Any]:
    return dict(zip(self._fields, self, strict=True))


def _nt_getnewargs(self: Any) -> tuple[Any, ...]:
    return tuple(self)


_NT_RESERVED = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults", "_make"})
_NT_RESERVED |= {"_replace", "_asdict", "_source"}


class _NamedTupleMeta(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> Any:
        annotations = ns.get("__annotations__", {})
        fields = tuple(annotations)
        defaults: dict[str, Any] = {}
        for field_name in fields:
            if field_name.startswith("_"):
                raise ValueError(f"Field names cannot start with an underscore: {field_name!r}")
            if field_name in ns:
                defaults[field_name] = ns[field_name]
            elif defaults:
                joined = ", ".join(defaults)
                raise TypeError(f"Non-default namedtuple field {field_name} cannot follow default field(s) {joined}")
        for key in ns:
            if key in _NT_RESERVED:
                raise AttributeError(f"Cannot overwrite NamedTuple attribute {key}")
        body: dict[str, Any] = {key: value for key, value in ns.items() if key not in defaults}
        body.update(
            __slots__=(),
            __new__=_nt_new,
            _fields=fields,
            _field_defaults=defaults,
            __match_args__=fields,
            _make=classmethod(_nt_make),
            _replace=_nt_replace,
            __replace__=_nt_replace,
            _asdict=_nt_asdict,
            __getnewargs__=_nt_getnewargs,
            __orig_bases__=bases,
        )
        body.setdefault("__repr__", _nt_repr)
        for index, field_name in enumerate(fields):
            body[field_name] = _tuplegetter(index, f"Alias for field number {index}")
        return type(name, (tuple,), body)


if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    # `class Point(NamedTuple): ...` runs the metaclass (typing's own NamedTuple is made alike)
    NamedTuple = type.__new__(_NamedTupleMeta, "NamedTuple", (), {"__module__": __name__})
