"""The blind read: the sheet hides which run is which, the tally unblinds the votes correctly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.blind_read import main, tally, write_sheet


def _run(path: Path, replies: list[str]) -> Path:
    examples = [{"prompt": f"pregunta {i}", "reference": f"respuesta {i}", "tuned": r} for i, r in enumerate(replies)]
    path.mkdir(parents=True)
    (path / "eval.json").write_text(json.dumps({"examples": examples}), encoding="utf-8")
    return path


def test_sheet_hides_the_runs_and_tally_unblinds_the_votes(tmp_path: Path) -> None:
    good = _run(tmp_path / "good", [f"buena {i}" for i in range(10)])
    bad = _run(tmp_path / "bad", [f"mala {i}" for i in range(10)])
    sheet, key = write_sheet(good, bad, n=8, seed=3)
    assert str(good) not in sheet and str(bad) not in sheet and sheet.count("**A:**") == 8
    assert 0 < sum(key["a_shown_first"]) < 8  # both orders occur, so the side is no tell
    # A reader who always picks the "buena" reply, wherever it is shown:
    votes = [("A" if f"**A:** buena {i}" in sheet else "B") for i in range(8)]
    votes[7] = "= same"
    assert tally(key, "\n".join(votes)) == {str(good): 7, str(bad): 0, "tie": 1}
    with pytest.raises(ValueError, match="line 2: 'C'"):
        tally(key, "A\nC\n" + "A\n" * 6)
    with pytest.raises(ValueError, match="3 verdicts for 8"):
        tally(key, "A\nB\nA\n")


def test_sheet_refuses_runs_on_other_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _run(tmp_path / "a", ["x", "y"])
    b = tmp_path / "b"
    _run(b, ["x", "y"])
    data = json.loads((b / "eval.json").read_text(encoding="utf-8"))
    data["examples"].reverse()
    (b / "eval.json").write_text(json.dumps(data), encoding="utf-8")
    assert main(["sheet", str(a), str(b), "--out", str(tmp_path / "s.md"), "--key", str(tmp_path / "k.json")]) == 2
    assert "same dev examples" in capsys.readouterr().err
