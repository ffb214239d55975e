"""`@struct` behaves as `@dataclass` does for what the package uses (structs.py): held side by side."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from peering_autopilot import structs
from peering_autopilot.structs import struct


@dataclass(frozen=True)
class DBase:
    KIND: ClassVar[str] = "base"
    name: str
    size: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)
    note: str = field(default="", compare=False, metadata={"event": False})


class DChild(DBase):
    KIND = "child"


@dataclass(frozen=True)
class DMore(DBase):
    extra: tuple[int, ...] = ()


@struct(frozen=True)
class SBase:
    KIND: ClassVar[str] = "base"
    name: str
    size: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)
    note: str = field(default="", compare=False, metadata={"event": False})


class SChild(SBase):
    KIND = "child"


@struct(frozen=True)
class SMore(SBase):
    extra: tuple[int, ...] = ()


@dataclass
class DMutable:
    items: list[int] = field(default_factory=list)


@struct
class SMutable:
    items: list[int] = field(default_factory=list)


@dataclass(frozen=True, order=True)
class DOrdered:
    a: int
    b: str


@struct(frozen=True, order=True)
class SOrdered:
    a: int
    b: str


PAIRS: list[tuple[Any, Any]] = [(DBase, SBase), (DChild, SChild), (DMore, SMore)]


def _same_result(make_d: Any, make_s: Any) -> None:
    try:
        expected: Any = make_d()
    except Exception as error:  # noqa: BLE001 - the same exception class is what is compared
        with pytest.raises(type(error)):
            make_s()
        return
    assert make_s() == expected


@pytest.mark.parametrize(("d", "s"), PAIRS)
def test_init_repr_eq_hash_as_a_dataclass(d: Any, s: Any) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        (("a",), {}),
        (("a", 2), {}),
        ((), {"name": "a", "size": 2}),
        (("a",), {"tags": ("k",), "note": "n"}),
        ((), {}),
        (("a",), {"name": "b"}),
        (("a",), {"colour": "red"}),
        (("a", 1, (), "n", (), "too many"), {}),
    ]
    for args, kwargs in calls:
        _same_result(
            lambda a=args, k=kwargs: repr(d(*a, **k)).replace(d.__qualname__, "X"),
            lambda a=args, k=kwargs: repr(s(*a, **k)).replace(s.__qualname__, "X"),
        )
    assert s("a", 2, note="x") == s("a", 2, note="y")  # compare=False
    assert hash(s("a", note="x")) == hash(s("a", note="y"))
    assert s("a") != s("b")
    assert s.__match_args__ == d.__match_args__
    assert s.KIND == d.KIND


def test_equality_is_by_class_as_a_dataclass() -> None:
    assert (DBase("a") == DChild("a")) is False
    assert (SBase("a") == SChild("a")) is False
    assert SBase("a") != ("a", 0, (), "")  # type: ignore[comparison-overlap]
    assert SChild("a") == SChild("a")
    assert {SBase("a"), SBase("a"), SChild("a")} == {SBase("a"), SChild("a")}


def test_frozen_as_a_dataclass() -> None:
    value = SBase("a")
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'name'"):
        value.name = "b"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del value.name
    assert copy.copy(value) == value
    assert pickle.loads(pickle.dumps(value)) == value


def test_dataclasses_functions_take_a_struct() -> None:
    value = SMore("a", 1, ("k",), "n", (1,))
    assert dataclasses.is_dataclass(value)
    assert [f.name for f in dataclasses.fields(value)] == [f.name for f in dataclasses.fields(DMore)]
    assert [f.metadata.get("event", True) for f in dataclasses.fields(value)] == [True, True, True, False, True]
    assert dataclasses.asdict(value) == dataclasses.asdict(DMore("a", 1, ("k",), "n", (1,)))
    assert dataclasses.replace(value, size=5) == SMore("a", 5, ("k",), "n", (1,))
    assert copy.replace(value, name="b").name == "b"
    with pytest.raises(TypeError):
        dataclasses.replace(value, colour="red")  # type: ignore[call-arg]


def test_mutable_and_unhashable_as_a_dataclass() -> None:
    value = SMutable()
    value.items.append(1)
    assert SMutable().items == []  # a fresh default each time
    value.items = [2]
    assert value == SMutable([2])
    assert SMutable.__hash__ is None and DMutable.__hash__ is None
    with pytest.raises(TypeError):
        hash(value)


def test_order_as_a_dataclass() -> None:
    assert sorted([SOrdered(2, "a"), SOrdered(1, "b"), SOrdered(1, "a")]) == [
        SOrdered(1, "a"),
        SOrdered(1, "b"),
        SOrdered(2, "a"),
    ]
    assert (SOrdered(1, "a") < SOrdered(1, "b")) == (DOrdered(1, "a") < DOrdered(1, "b"))
    with pytest.raises(TypeError):
        _ = SOrdered(1, "a") < DOrdered(1, "a")  # type: ignore[operator]


def test_definitions_refused_as_by_a_dataclass() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument 'a'"):

        @struct
        class Bad:
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(ValueError, match="mutable default"):

        @struct
        class Shared:
            a: list[int] = []  # noqa: RUF012


class TPoint(typing.NamedTuple):
    name: str
    size: int = 0
    tags: tuple[str, ...] = ()

    def label(self) -> str:
        return f"{self.name}:{self.size}"

    @classmethod
    def of(cls, name: str) -> TPoint:
        return cls(name, 1)


class SPoint(structs.NamedTuple):
    name: str
    size: int = 0
    tags: tuple[str, ...] = ()

    def label(self) -> str:
        return f"{self.name}:{self.size}"

    @classmethod
    def of(cls, name: str) -> SPoint:
        return cls(name, 1)


def test_named_tuple_as_typings() -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        (("a",), {}),
        (("a", 2, ("x",)), {}),
        ((), {"name": "a", "tags": ("y",)}),
        (("a",), {"size": 3}),
        ((), {}),
        (("a",), {"name": "b"}),
        (("a",), {"colour": "red"}),
        (("a", 1, (), "too many"), {}),
    ]
    for args, kwargs in calls:
        _same_result(
            lambda a=args, k=kwargs: repr(TPoint(*a, **k)).replace("TPoint", "P"),
            lambda a=args, k=kwargs: repr(SPoint(*a, **k)).replace("SPoint", "P"),
        )
    value, typed = SPoint("a", 2, ("x",)), TPoint("a", 2, ("x",))
    plain: tuple[Any, ...] = ("a", 2, ("x",))
    assert value == plain  # tuples: equal by value, whatever the class
    assert tuple(value) == tuple(typed)
    assert hash(value) == hash(typed)
    assert isinstance(value, tuple) and type(value).__mro__ == (SPoint, tuple, object)
    assert value.name == "a" and value[1] == 2 and value.label() == "a:2" and SPoint.of("b") == ("b", 1, ())
    assert SPoint._fields == TPoint._fields and SPoint._field_defaults == TPoint._field_defaults
    assert SPoint.__match_args__ == TPoint.__match_args__
    assert value._asdict() == typed._asdict()
    assert value._replace(size=5) == SPoint("a", 5, ("x",)) and type(value._replace(size=5)) is SPoint
    assert copy.replace(value, name="b") == SPoint("b", 2, ("x",))
    assert SPoint._make(["a", 1, ()]) == SPoint("a", 1)
    with pytest.raises(ValueError, match="unexpected field names"):
        value._replace(colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        SPoint._make(["a"])
    assert pickle.loads(pickle.dumps(value)) == value and copy.deepcopy(value) == value
    assert sorted([SPoint("b"), SPoint("a", 2), SPoint("a", 1)]) == [SPoint("a", 1), SPoint("a", 2), SPoint("b")]
    with pytest.raises(AttributeError):
        value.name = "b"  # type: ignore[misc]
    match value:
        case SPoint(name, size):
            assert (name, size) == ("a", 2)


def test_named_tuple_definitions_refused_as_by_typing() -> None:
    with pytest.raises(TypeError, match="Non-default namedtuple field b cannot follow default field"):

        class Bad(structs.NamedTuple):
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(AttributeError, match="Cannot overwrite NamedTuple attribute _fields"):

        class Overwrites(structs.NamedTuple):
            a: int
            _fields = ("b",)  # type: ignore[misc]
