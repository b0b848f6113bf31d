"""Re-exports of every kind: named, renamed, submodule, star with __all__."""
from .shapes import Circle, Square as Box
from . import sub
from .sub.deep import *
from .sub import deep as deep_module

__all__ = ["Circle", "Box", "sub"]
__all__ += ["deep_module"]
