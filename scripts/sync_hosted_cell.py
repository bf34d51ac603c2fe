"""Write gantut.hosted.cell_source() as the first code cell of every chapter (tagged "hosted-install").

    python scripts/sync_hosted_cell.py          # after changing gantut.hosted.REPOSITORY or the version

A chapter that has the cell gets its source replaced (outputs kept empty); one that has none gets it inserted
before its first code cell. tests/test_hosted.py checks that every chapter agrees with the template.
"""
from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gantut import hosted  # noqa: E402


def sync(path: Path) -> bool:
    nb = json.loads(path.read_text())
    src = hosted.cell_source().splitlines(keepends=True)
    cells = [c for c in nb["cells"] if hosted.TAG_NAME in c.get("metadata", {}).get("tags", [])]
    if cells:
        cell = cells[0]
        if cell["source"] == src and not cell.get("outputs"):
            return False
        cell["source"], cell["outputs"], cell["execution_count"] = src, [], None
    else:
        first = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
        nb["cells"].insert(first, {"cell_type": "code", "execution_count": None, "id": uuid.uuid4().hex[:8],
                                   "metadata": {"tags": [hosted.TAG_NAME]}, "outputs": [], "source": src})
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return True


def main() -> None:
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        print(f"{path.name}: {'written' if sync(path) else 'up to date'}")


if __name__ == "__main__":
    main()
