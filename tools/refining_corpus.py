"""The generic sentences the attention-pooled tables are trained on (tools/build_minilm_table.py):
what is on a machine of ours, never benchmark data. Each source is deduplicated, sorted, shuffled
with a fixed seed and cut to its share, so the same machine gives the same list.

    refining_sentences("docstrings:40000,wordnet:60000")  → {"docstrings": [...], "wordnet": [...]}
"""

from __future__ import annotations

import ast
import random
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

CORPUS = "docstrings:40000,wordnet:60000,debian:20000,man:5000"
SEED = 0

_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SEPARATORS = re.compile(r"[_\-./&:+]+")
_FIRST_SENTENCE = re.compile(r"(?<=[.!?])\s|\n\s*\n")


def _split_name(name: str) -> str:
    """As `mcpgate.search.text.split_name` (not imported: this venv lacks mcpgate's dependencies)."""
    return _SEPARATORS.sub(" ", _CAMEL.sub(r"\1 \2", _ACRONYM.sub(r"\1 \2", name))).lower().strip()


def refining_sentences(corpus: str) -> dict[str, list[str]]:
    """The sentences of each `source:count` in `corpus`, by source, in that order."""
    builders = {
        "docstrings": docstring_sentences,
        "wordnet": wordnet_sentences,
        "debian": debian_sentences,
        "man": manpage_sentences,
    }
    used: dict[str, list[str]] = {}
    for part in corpus.split(","):
        name, _, count = part.partition(":")
        if name not in builders:
            sys.exit(f"unknown corpus source {name!r}: choose from {', '.join(builders)}")
        if not count.isdigit():
            sys.exit(f"corpus source {name!r} needs a count of sentences, as in {name}:10000")
        found = builders[name](int(count))
        if not found:
            print(f"corpus source {name}: nothing found on this machine, left out", flush=True)
            continue
        used[name] = found
    return used


def _shuffled(sentences: list[str], limit: int) -> list[str]:
    """Deduplicated (ignoring case), sorted, shuffled with a fixed seed, the first `limit`: the same
    list from the same sources whatever order they were read in."""
    found: dict[str, str] = {}
    for sentence in sentences:
        if 4 <= len(sentence.split()) <= 60:
            found.setdefault(sentence.lower(), sentence)
    kept = sorted(found.values())
    random.Random(SEED).shuffle(kept)
    return kept[:limit]


WORDNET = Path("/usr/share/wordnet")


def wordnet_sentences(limit: int) -> list[str]:
    """WordNet's synsets as "lemma, lemma: definition" (up to three lemmas) and their quoted examples."""
    sentences = []
    for part in ("noun", "verb", "adj", "adv"):
        path = WORDNET / f"data.{part}"
        if not path.exists():
            return []
        for line in path.read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):  # the licence header
                continue
            head, _, gloss = line.partition("| ")
            fields = head.split()
            lemmas = [re.sub(r"\(.*\)$", "", fields[4 + 2 * i]).replace("_", " ") for i in range(int(fields[3], 16))]
            pieces = [piece.strip() for piece in gloss.split(";")]
            definitions = [piece for piece in pieces if piece and not piece.startswith('"')]
            if definitions:
                sentences.append(f"{', '.join(lemmas[:3])}: {'; '.join(definitions)}")
            sentences += [piece.strip('"') for piece in pieces if piece.startswith('"')]
    return _shuffled(sentences, limit)


def debian_sentences(limit: int) -> list[str]:
    """Every package in apt's lists as "package name as words: its short description"."""
    lists = sorted(Path("/var/lib/apt/lists").glob("*_Packages*"))
    found: dict[str, str] = {}
    for path in lists:
        reader = ["lz4cat"] if path.suffix == ".lz4" else ["xzcat"] if path.suffix == ".xz" else ["cat"]
        text = subprocess.run([*reader, str(path)], capture_output=True, text=True, check=False).stdout
        for block in text.split("\n\n"):
            package = re.search(r"^Package: (\S+)", block, re.M)
            description = re.search(r"^Description: (.+)", block, re.M)
            if package and description:
                found[package.group(1)] = f"{re.sub(r'[-.+]', ' ', package.group(1))}: {description.group(1).strip()}"
    return _shuffled(list(found.values()), limit)


def manpage_sentences(limit: int) -> list[str]:
    """The installed manual pages' one-line summaries, as "name as words: summary"."""
    try:
        listing = subprocess.run(["man", "-k", "."], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        return []
    sentences = []
    for line in listing.splitlines():
        entry = re.match(r"^(\S+) \(\S+\)\s+- (.+)$", line)
        if entry and "unknown subject" not in entry.group(2):
            sentences.append(f"{re.sub(r'[-._:]+', ' ', entry.group(1))}: {entry.group(2)}")
    return _shuffled(sentences, limit)


def docstring_sentences(limit: int) -> list[str]:
    """'name as words: first sentence of its docstring' for the public functions and classes of the
    standard library and the installed packages (tests left out), as a tool is indexed: deduplicated,
    sorted, shuffled with a fixed seed, the first `limit` kept."""
    sentences = []
    for path in _sources():
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or node.name[0] == "_":
                continue
            docstring = ast.get_docstring(node)
            if not docstring:
                continue
            first = " ".join(_FIRST_SENTENCE.split(docstring.strip(), maxsplit=1)[0].split())
            if 4 <= len(first.split()) <= 40 and not any(c in first for c in "`>{}=[]|\\"):
                sentences.append(f"{_split_name(node.name)}: {first}")
    return _shuffled(sentences, limit)


def _sources() -> list[Path]:
    """The standard library's modules (not its site-packages) and this venv's packages' (not pip's)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    roots = [(stdlib, ("site-packages", "dist-packages"))]
    roots += [(Path(sysconfig.get_paths()[kind]), ("pip",)) for kind in sorted({"purelib", "platlib"})]
    files = set()
    for root, skipped in roots:
        for path in root.rglob("*.py"):
            parts = path.relative_to(root).parts
            if not any(part in skipped or part.startswith("test") for part in parts):
                files.add(path)
    return sorted(files)
