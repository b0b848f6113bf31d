from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Iterator

    class OnlyTyped: ...

T = TypeVar("T")


class Kind(enum.Enum):
    ROUND = 1
    SQUARE, OTHER = 2, 3


@dataclass(frozen=True)
class Circle:
    radius: float

    @property
    def area(self) -> float:
        return 3.14159 * self.radius**2

    class Meta:
        ordering = ["radius"]


class Square(Generic[T]):
    async def grow(self, by: T) -> None:
        def helper():
            class Local: ...
            return Local
        return None


Alias = Circle
Shape = Circle | Square


def π_area(r):
    """A name that is not ASCII: columns count characters, not bytes."""
    return f"{'é' + f'{r!r:>{10}}'}"


def   spaced_out   ():
    match spaced_out:
        case Kind.ROUND | Kind.SQUARE:
            pass
        case {"k": Kind.OTHER}:
            pass
    if (n := 3) > 2:
        class InIf: ...
    else:
        class InIf: ...
    try:
        from ._speedups import fast
    except ImportError:
        def fast(): ...
    with open("x") as f:
        class InWith: ...
    for _ in range(1):
        def in_for(): ...
    while False:
        class InWhile: ...
