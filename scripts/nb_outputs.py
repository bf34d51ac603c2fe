"""Print a notebook's outputs as text and save its PNG figures, to review what a student will see.

    python scripts/nb_outputs.py notebooks/01_ring_and_grid.ipynb --png-dir /tmp/nb01
"""
import argparse
import base64
from pathlib import Path

import nbformat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("--png-dir", default=None, help="where to write the figures (default: none written)")
    parser.add_argument("--max-chars", type=int, default=600, help="truncate each text output to its last N chars")
    args = parser.parse_args()
    nb = nbformat.read(args.notebook, as_version=4)
    png_dir = Path(args.png_dir) if args.png_dir else None
    if png_dir:
        png_dir.mkdir(parents=True, exist_ok=True)
    k = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream":
                print(f"[{i}] {out['name']}: {out['text'][-args.max_chars:].rstrip()}")
            elif kind == "error":
                print(f"[{i}] ERROR {out['ename']}: {out['evalue']}")
            elif "data" in out:
                if "image/png" in out["data"]:
                    k += 1
                    if png_dir:
                        path = png_dir / f"cell{i:02d}_{k}.png"
                        path.write_bytes(base64.b64decode(out["data"]["image/png"]))
                        print(f"[{i}] figure -> {path}")
                    else:
                        print(f"[{i}] figure")
                elif "text/plain" in out["data"]:
                    print(f"[{i}] {out['data']['text/plain'][-args.max_chars:]}")


if __name__ == "__main__":
    main()
