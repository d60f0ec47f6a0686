"""The golden record: `inspect --json` and `generate --json` of fixed models on every board and
runtime, and the file tree each generate writes, are what tests/golden/*.json recorded.

The record was made before runtimes became objects and the CLI a package (issue 18), so this
proves that shape change kept behaviour on the boards there were then. When a change to
generated code is intended, rewrite it with `python -m tests.golden.snapshot` and say why in
the commit.
"""

from __future__ import annotations

import json

import pytest

from tests.golden.snapshot import MODELS, golden_path, snapshot


@pytest.mark.parametrize("name", sorted(MODELS))
def test_inspect_and_generate_match_the_golden_record(name: str) -> None:
    want = json.loads(golden_path(name).read_text())
    boards = sorted({key.split()[0] for key in want["generate"]})   # the boards there were when it was made
    got = snapshot(name, boards)
    assert got["inspect"] == want["inspect"]
    assert set(got["generate"]) == set(want["generate"])
    for key, record in want["generate"].items():
        assert got["generate"][key] == record, key
