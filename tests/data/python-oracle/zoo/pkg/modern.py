"""Python 3.12 syntax (PEP 695 type parameters, PEP 701 f-strings): CPython 3.11, the oracle on this
machine, refuses this file; ssot-check reads it."""


class Stack[T]:
    def push[U](self, item: U) -> None: ...


type Pair[T] = tuple[T, T]


def nested(items):
    return f"{", ".join(f"{item!r}" for item in items)}"
