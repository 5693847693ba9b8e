"""Every import a module makes inside one package, read with `ast` (deferred and type-only ones
too), for the layer-rule tests of the runtime and of the lab."""

from __future__ import annotations

import ast
from pathlib import Path


def package_imports(path: Path, module: str, package: str, package_root: Path) -> list[tuple[int, str]]:
    """(line, imported module) for each import of `package` or its modules by `module` (at `path`).

    Relative imports are resolved against `module`; `from package import x` counts as importing
    the module `package.x` when x is a module or subpackage of `package_root`.
    """
    is_package = path.name == "__init__.py"
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            if target == package:
                out.extend(
                    (node.lineno, f"{package}.{alias.name}")
                    for alias in node.names
                    if (package_root / f"{alias.name}.py").exists() or (package_root / alias.name).is_dir()
                )
    return [(line, name) for line, name in out if name == package or name.startswith(package + ".")]
