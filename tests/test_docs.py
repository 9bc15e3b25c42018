"""The documentation states what the code does: checks a reader of the code could make by hand."""

from __future__ import annotations

import re
from pathlib import Path

from celltrace.core import demo as core_demo

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "celltrace"
DOCS = ROOT / "docs"
ARCHITECTURE = DOCS / "architecture.md"
IMPORT = re.compile(r"^\s*(?:from|import)\s+celltrace\.(\w+)", re.MULTILINE)


def _packages() -> list[str]:
    return sorted(p.parent.name for p in SRC.glob("*/__init__.py"))


def _imports_of(name: str) -> set[str]:
    """The other top-level parts of celltrace that ``name`` imports anywhere in its code."""
    path = SRC / name
    files = sorted(path.rglob("*.py")) if path.is_dir() else [SRC / f"{name}.py"]
    found = {m for f in files for m in IMPORT.findall(f.read_text(encoding="utf-8"))}
    return found - {name}


def _documented_dependencies() -> dict[str, set[str]]:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## Dependencies between the apps", 1)[1].split("\n## ", 1)[0]
    graph: dict[str, set[str]] = {}
    for line in section.splitlines():
        match = re.match(r"- `(\w+)` → (.*)", line)
        if match:
            # dotted names (`bank.isbt128`) in the line are notes, not nodes
            graph[match[1]] = set(re.findall(r"`(\w+)`", match[2]))
    return graph


def test_the_dependency_list_of_architecture_md_is_the_code() -> None:
    documented = _documented_dependencies()
    actual = {name: _imports_of(name) for name in [*_packages(), "cli"]}
    assert "assays" in documented and actual["assays"] == set()
    assert documented == actual


def test_the_layout_names_every_app() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    layout = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^  (\w+)/ ", layout, re.MULTILINE))
    on_disk = {p.name for p in SRC.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert on_disk <= named, sorted(on_disk - named)
    assert named <= on_disk, sorted(named - on_disk)


def test_the_readme_lists_exactly_the_demo_users() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Demo logins", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", table, re.MULTILINE))
    assert rows == {(username, name) for username, name, _org, _roles in core_demo.USERS}


def _celltrace_names() -> set[str]:
    places = [SRC, ROOT / "tests", ROOT / "bench", ROOT / ".ci", ROOT / "Makefile"]
    places.append(DOCS / "screenshots.py")
    files: list[Path] = []
    for place in places:
        files += [place] if place.is_file() else [f for f in place.rglob("*") if f.is_file()]
    names: set[str] = set()
    for f in files:
        if f.suffix in {".py", ".toml", ".md", ""} and "__pycache__" not in f.parts:
            names |= set(re.findall(r"\bCELLTRACE_[A-Z_]*[A-Z]", f.read_text(encoding="utf-8")))
    return names


def test_every_celltrace_variable_is_in_a_documented_table() -> None:
    tables = "".join(
        line
        for doc in ("operations.md", "development.md")
        for line in (DOCS / doc).read_text(encoding="utf-8").splitlines(keepends=True)
        if line.startswith("|")
    )
    documented = set(re.findall(r"`(CELLTRACE_[A-Z_]*[A-Z])`", tables))
    names = _celltrace_names()
    assert "CELLTRACE_DATA_DIR" in names and "CELLTRACE_TEST_TMP" in names
    # a prefix used to filter the environment (``CELLTRACE_TEST``) is not a variable of its own
    missing = {n for n in names - documented if not any(d.startswith(n + "_") for d in documented)}
    assert not missing, sorted(missing)


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def test_relative_links_in_the_docs_resolve() -> None:
    broken = []
    for doc in _markdown_files():
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = target.split("#", 1)[0]
            if not (doc.parent / path).exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
    assert not broken, broken


def test_nothing_cites_the_design_documents_outside_the_repository() -> None:
    offenders = []
    for f in [*_markdown_files(), *SRC.rglob("*.py")]:
        text = f.read_text(encoding="utf-8")
        if "shared/design" in text or "../shared" in text:
            offenders.append(str(f.relative_to(ROOT)))
    assert not offenders, offenders
    for name in ("architecture", "domain-facts", "reliability", "style"):
        brief = (DOCS / "design" / f"{name}.md").read_text(encoding="utf-8")
        assert brief.startswith("> **Original design brief**")
