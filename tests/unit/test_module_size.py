"""Small modules are part of the layering (docs/layering.md): none of builder/ grows past 400 lines."""

from pathlib import Path

import builder

LIMIT = 400


def test_no_module_of_builder_is_over_400_lines() -> None:
    root = Path(builder.__file__).parent
    too_long = {
        str(path.relative_to(root.parent)): n
        for path in sorted(root.rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
    }
    assert not too_long, f"split these along a seam (lines over {LIMIT}): {too_long}"
