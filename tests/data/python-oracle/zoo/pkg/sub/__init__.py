from ..shapes import Kind as SubKind
