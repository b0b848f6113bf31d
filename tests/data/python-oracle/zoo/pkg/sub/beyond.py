# A relative import above the top-level package: CPython parses it; importing would fail.
from .... import nowhere


@decorator.with_args(1)
@other
async def decorated():
    class \
        Continued: ...
