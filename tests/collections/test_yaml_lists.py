"""The fast YAML path builds exactly what the safe loader builds, and hands it anything else."""

from __future__ import annotations

import pytest
import yaml

from mcpgate.catalogs.collections.yaml_lists import _build, _NotPlain, load_yaml
from tests.collections.records import events, workflow_nodes

PLAIN = [
    yaml.safe_dump(workflow_nodes()),
    yaml.safe_dump(events(), sort_keys=False),
    "- a: 1\n  b: 2.5\n  c: true\n  d: null\n  e: ~\n  f: 2024-01-02\n  g: '007'\n  h: \"x\"\n  i: |\n    block\n"
    "  j: [1, 2, {k: v}]\n  k: 0x1f\n  l: .inf\n  m: ''\n  n:\n  o: yes\n  p: 2001-12-14t21:59:43.10-05:00\n"
    "  q: 1_000\n  r: -3\n  s: !!str 3\n",
    "- 1\n- - 2\n  - 3\n",
    "[]",
    "",
]
NOT_PLAIN = [
    "- &a {x: 1}\n- *a\n",  # anchors and aliases
    "- !!int '4'\n",  # an explicit tag on a quoted scalar
    "base: &b {x: 1}\nitems:\n  - <<: *b\n    y: 2\n",  # a merge key
]


@pytest.mark.parametrize("text", PLAIN)
def test_plain_yaml_is_built_from_events_as_the_safe_loader_would(text: str) -> None:
    assert _build(text) == yaml.load(text, Loader=yaml.CSafeLoader)


@pytest.mark.parametrize("text", NOT_PLAIN)
def test_anything_else_goes_to_the_safe_loader(text: str) -> None:
    with pytest.raises(_NotPlain):
        _build(text)
    assert load_yaml(text) == yaml.load(text, Loader=yaml.CSafeLoader)


@pytest.mark.parametrize("text", ["a: [1\n", "a: 1\n---\nb: 2\n", "- x: =\n", "? [1, 2]\n: x\n"])
def test_what_the_safe_loader_refuses_is_refused(text: str) -> None:
    with pytest.raises(yaml.YAMLError):
        yaml.load(text, Loader=yaml.CSafeLoader)
    with pytest.raises(yaml.YAMLError):
        load_yaml(text)
