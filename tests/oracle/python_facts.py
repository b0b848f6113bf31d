#!/usr/bin/env python3
"""The independent truth for the Python frontend: CPython's own `ast` module lists, for every `.py` file
of a tree, its module path, its definitions (classes and functions at any depth, with their qualified
paths and the position of their names) and its imports (made absolute, and followed through the
modules of the tree to where they lead). `tests/python_oracle.rs` compares ssot-check's facts with it.

Usage: python_facts.py TREE > facts.json

The package layout is the one the README documents (a project's import root: a setuptools or Poetry
source folder, else `src/`, else the project folder; outside a project, the folder above the topmost
`__init__.py` package). Everything else is CPython's reading of the code.
"""

import ast
import configparser
import json
import os
import re
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
ENUM_BASES = {"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag", "ReprEnum"}
SKIPPED_DIRS = {"target"}


def setup_cfg_roots(project):
    path = os.path.join(project, "setup.cfg")
    if not os.path.isfile(path):
        return []
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return []
    roots = []
    where = parser.get("options.packages.find", "where", fallback="").strip()
    if where:
        roots.append(where)
    for entry in parser.get("options", "package_dir", fallback="").splitlines():
        key, _, value = entry.partition("=")
        if _ and not key.strip() and value.strip():
            roots.append(value.strip())
    return [os.path.join(project, r) for r in roots if r and r != "."]


def configured_roots(project):
    path = os.path.join(project, "pyproject.toml")
    if tomllib is None or not os.path.isfile(path):
        return []
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except Exception:
        return []

    def at(*keys):
        value = table
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value

    roots = []
    for value in (at("tool", "setuptools", "packages", "find", "where"), at("tool", "setuptools", "package-dir", "")):
        if isinstance(value, str):
            roots.append(value)
        elif isinstance(value, list):
            roots.extend(v for v in value if isinstance(v, str))
    packages = at("tool", "poetry", "packages")
    if isinstance(packages, list):
        roots.extend(p["from"] for p in packages if isinstance(p, dict) and isinstance(p.get("from"), str))
    return [os.path.join(project, r) for r in roots if r and r != "."]


def import_root(path):
    folder = os.path.dirname(path)
    probe = folder
    while True:
        if any(os.path.isfile(os.path.join(probe, name)) for name in PROJECT_FILES):
            roots = configured_roots(probe) + setup_cfg_roots(probe) + [os.path.join(probe, "src"), probe]
            holding = [r for r in roots if path.startswith(r.rstrip(os.sep) + os.sep)]
            return max(holding, key=lambda r: r.count(os.sep)) if holding else probe
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    root = folder
    while os.path.isfile(os.path.join(root, "__init__.py")) and os.path.dirname(root) != root:
        root = os.path.dirname(root)
    return root


def module_of(path):
    """(segments, is_package) of the file at `path`."""
    relative = os.path.relpath(path, import_root(path)).split(os.sep)
    stem = relative.pop()[: -len(".py")]
    if stem == "__init__":
        if not relative:
            relative = [os.path.basename(os.path.dirname(path))]
        return relative, True
    return relative + [stem], False


def dotted(node):
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        inner = dotted(node.value)
        return inner + [node.attr] if inner is not None else None
    return None


def is_type_checking(test):
    chain = dotted(test)
    return bool(chain) and chain[-1] == "TYPE_CHECKING"


class Reader:
    def __init__(self, source, module, package):
        self.lines = source.splitlines(keepends=True)
        self.module = module
        self.package = package
        self.definitions = []
        self.imports = []
        self.bindings = {}
        self.all = None

    def column(self, line, byte_offset):
        """1-based column in characters of a UTF-8 byte offset on a 1-based line."""
        text = self.lines[line - 1].encode("utf-8")
        return len(text[:byte_offset].decode("utf-8", errors="replace")) + 1

    def name_position(self, node, keyword):
        """Where the name after `class` or `def` is: CPython records the statement, not its name."""
        line, offset = node.lineno, node.col_offset
        text = self.lines[line - 1].encode("utf-8")[offset:].decode("utf-8", errors="replace")
        match = re.compile(r"(?:async\s+)?" + keyword + r"\s+").match(text)
        while text[match.end():].startswith("\\"):
            # The name is on a following line (a backslash continuation).
            line, offset = line + 1, 0
            text = self.lines[line - 1]
            match = re.compile(r"\s*").match(text)
        start = len(text[: match.end()].encode("utf-8")) + offset
        return line, self.column(line, start)

    def walk(self, body, scope, kind, type_checking, local):
        for node in body:
            self.statement(node, scope, kind, type_checking, local)

    def statement(self, node, scope, kind, type_checking, local):
        if isinstance(node, ast.ClassDef):
            bases = [dotted(b) for b in node.bases]
            is_enum = any(b and b[-1] in ENUM_BASES for b in bases)
            path = scope + [node.name]
            line, column = self.name_position(node, "class")
            if not type_checking:
                self.definitions.append(["enum" if is_enum else "class", "::".join(path), line, column])
            if kind == "module":
                self.bindings[node.name] = ("defined", None)
            self.walk(node.body, path, "class", type_checking, local)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            path = scope + [node.name]
            line, column = self.name_position(node, "def")
            if not type_checking:
                self.definitions.append(["method" if kind == "class" else "fn", "::".join(path), line, column])
            if kind == "module":
                self.bindings[node.name] = ("defined", None)
            self.walk(node.body, path, "function", type_checking, True)
        elif hasattr(ast, "TypeAlias") and isinstance(node, ast.TypeAlias):
            if not type_checking:
                self.definitions.append(
                    ["type-alias", "::".join(scope + [node.name.id]), node.name.lineno,
                     self.column(node.name.lineno, node.name.col_offset)]
                )
            if kind == "module":
                self.bindings[node.name.id] = ("defined", None)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                path = alias.name.replace(".", "::")
                if alias.asname:
                    binding, bound = alias.asname, path
                else:
                    binding = bound = alias.name.split(".")[0]
                self.add_import(alias, path, binding, bound, False, kind)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = self.module if self.package else self.module[:-1]
                keep = max(len(anchor) - (node.level - 1), 0)
                base = anchor[:keep]
            else:
                base = []
            if node.module:
                base = base + node.module.split(".")
            base = "::".join(base)
            for alias in node.names:
                if alias.name == "*":
                    self.add_import(alias, base, None, base, True, kind)
                    continue
                path = base + "::" + alias.name if base else alias.name
                self.add_import(alias, path, alias.asname or alias.name, path, False, kind)
        elif isinstance(node, ast.If) and is_type_checking(node.test):
            self.walk(node.body, scope, kind, True, local)
            self.walk(node.orelse, scope, kind, type_checking, local)
        else:
            if kind == "module":
                self.module_binding(node)
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(node, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    self.walk(inner, scope, kind, type_checking, local)
            for handler in getattr(node, "handlers", []) or []:
                self.walk(handler.body, scope, kind, type_checking, local)
            for case in getattr(node, "cases", []) or []:
                self.walk(case.body, scope, kind, type_checking, local)

    def module_binding(self, node):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self.bind_target(target, node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            self.bind_target(node.target, node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == "__all__":
            self.all = (self.all or []) + (strings(node.value) or [])

    def bind_target(self, target, value):
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind_target(element, None)
            return
        if isinstance(target, ast.Starred):
            self.bind_target(target.value, None)
            return
        if not isinstance(target, ast.Name):
            return
        if target.id == "__all__":
            self.all = strings(value) if value is not None else None
            self.bindings[target.id] = ("defined", None)
            return
        chain = dotted(value) if value is not None else None
        self.bindings[target.id] = ("alias", chain) if chain else ("defined", None)

    def add_import(self, alias, path, binding, bound, glob, kind):
        if kind == "module" and binding is not None:
            self.bindings[binding] = ("import", bound)
        line = alias.lineno
        self.imports.append([path, binding, glob, line, self.column(line, alias.col_offset)])


def strings(node):
    if isinstance(node, (ast.List, ast.Tuple)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
    ):
        return [e.value for e in node.elts]
    return None


def follow(modules, path):
    """Where `path` leads through the tree's modules: each name a module binds by import or alias is
    replaced by what it names (an `__init__.py` re-export leads to the defining module)."""
    for _ in range(32):
        segments = path.split("::")
        for k in range(len(segments), 0, -1):
            prefix = "::".join(segments[:k])
            if prefix in modules:
                break
        else:
            return path
        if k == len(segments):
            return path
        reader = modules[prefix]
        name, rest = segments[k], segments[k + 1:]
        binding = reader.bindings.get(name)
        if binding is None:
            following = None
            for star in (i for i in reader.imports if i[2] and i[0] in modules):
                exporter = modules[star[0]]
                exported = (name in exporter.all) if exporter.all is not None else (
                    not name.startswith("_") and name in exporter.bindings)
                if exported:
                    following = star[0] + "::" + name
                    break
            if following is None:
                return path
            new = following
        elif binding[0] == "defined":
            return path
        elif binding[0] == "import":
            new = binding[1]
        else:
            new = resolve_chain(reader, binding[1], 0)
            if new is None:
                return path
        new = "::".join([new] + rest)
        if new == path:
            return path
        path = new
    return path


def resolve_chain(reader, chain, depth):
    first, rest = chain[0], chain[1:]
    binding = reader.bindings.get(first)
    if binding is None:
        return None
    if binding[0] == "defined":
        base = "::".join(reader.module + [first])
    elif binding[0] == "import":
        base = binding[1]
    elif depth < 32 and binding[1][0] != first:
        base = resolve_chain(reader, binding[1], depth + 1)
        if base is None:
            return None
    else:
        return None
    return "::".join([base] + rest)


def main():
    tree = os.path.realpath(sys.argv[1])
    files = []
    for folder, dirs, names in os.walk(tree):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        files.extend(os.path.join(folder, n) for n in sorted(names) if n.endswith(".py") and not n.startswith("."))
    modules, readers, errors = {}, {}, {}
    for path in files:
        relative = os.path.relpath(path, tree).replace(os.sep, "/")
        segments, package = module_of(path)
        try:
            with open(path, "rb") as f:
                # As CPython reads a source file: a UTF-8 byte order mark is not part of the text.
                source = f.read().decode("utf-8-sig")
            parsed = ast.parse(source, filename=path)
        except (SyntaxError, UnicodeDecodeError, ValueError) as error:
            errors[relative] = {"module": "::".join(segments), "error": str(error)}
            continue
        reader = Reader(source, segments, package)
        reader.walk(parsed.body, segments, "module", False, False)
        readers[relative] = reader
        modules.setdefault("::".join(segments), reader)
    out = {"python": sys.version.split()[0], "files": {}}
    for relative, reader in readers.items():
        out["files"][relative] = {
            "module": "::".join(reader.module),
            "definitions": reader.definitions,
            "imports": [
                [path, binding, glob, line, column, path if glob else follow(modules, path)]
                for path, binding, glob, line, column in reader.imports
            ],
        }
    for relative, error in errors.items():
        out["files"][relative] = {"module": error["module"], "error": error["error"]}
    json.dump(out, sys.stdout, indent=None, sort_keys=True)


if __name__ == "__main__":
    main()
