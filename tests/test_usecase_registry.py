import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_use_case_is_found_even_after_one_was_imported_directly():
    # In a fresh interpreter: importing one use case module first must not hide the others.
    code = (
        "import builder.usecases.retrieval\n"
        "from builder.usecases import get_usecase\n"
        "print(sorted(get_usecase(n).name for n in ('support','translation','sentiment','content','retrieval')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['content', 'retrieval', 'sentiment', 'support', 'translation']"
