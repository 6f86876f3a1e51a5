"""The import rule of ARCHITECTURE.md, enforced: imports point inward, adapters never meet."""

import ast
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

ADAPTERS = {"graphql", "ocpp", "ocpi", "payments", "loadmgmt", "monitoring"}
INNER = {"services", "db", "domain", "events", "settings"}

# What each part of app/ may import from app/ (None: anything; main.py and cli.py wire it all).
ALLOWED_APP_IMPORTS: dict[str, set[str] | None] = {
    "main": None,
    "cli": None,
    "cli_access": None,  # the `operators` and `api-keys` commands of cli.py
    "settings": set(),
    "domain": {"domain"},
    "db": {"db", "domain"},
    "events": {"events", "domain"},
    "services": {"services", "db", "domain", "events", "settings"},
    "simulator": {"simulator"},
    **{adapter: {adapter, *INNER} for adapter in ADAPTERS},
}

# Third-party packages that only one part of app/ may import.
OWNED_PACKAGES = {
    "ocpp": {"ocpp", "simulator"},  # the simulator is a client tool, not part of the server
    "strawberry": {"graphql"},
    "stripe": {"payments"},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _part(path: Path) -> str:
    relative = path.relative_to(APP)
    return relative.parts[0].removesuffix(".py")


def _modules() -> list[Path]:
    return sorted(p for p in APP.rglob("*.py") if p.name != "__init__.py" or p.parent != APP)


def test_every_part_of_app_has_a_rule() -> None:
    parts = {_part(p) for p in _modules()}
    assert parts <= set(ALLOWED_APP_IMPORTS), (
        f"no import rule for {parts - set(ALLOWED_APP_IMPORTS)}"
    )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(APP)))
def test_imports_point_inward(path: Path) -> None:
    part = _part(path)
    allowed = ALLOWED_APP_IMPORTS[part]
    violations = []
    for line, module in _imports(path):
        top, _, rest = module.partition(".")
        if top == "app" and allowed is not None:
            target = rest.split(".")[0]
            if target not in allowed:
                violations.append(f"line {line}: app.{part} must not import {module}")
        owners = OWNED_PACKAGES.get(top)
        if owners is not None and part not in owners:
            violations.append(f"line {line}: only app/{'|'.join(sorted(owners))} may import {top}")
        if part == "domain" and top != "app" and top not in sys.stdlib_module_names:
            violations.append(f"line {line}: the domain is standard library only, not {module}")
    assert not violations, "\n".join(violations)


def test_the_rule_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import stripe\nfrom app.graphql.schema import schema\n")
    modules = [module for _, module in _imports(bad)]
    assert modules == ["stripe", "app.graphql.schema"]
