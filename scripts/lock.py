"""Resolve requirements/base.in into a fully pinned lock file.

Usage: python scripts/lock.py base.in lock.txt

pip resolves ``base.in`` from scratch (``--ignore-installed``, nothing is installed) and its
installation report gives the exact distribution names and versions to pin. Local version
labels are dropped (``torch==2.13.0+cpu`` -> ``torch==2.13.0``) so the lock works both where
pip finds the CPU wheel in its find-links and where it installs from PyPI.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HEADER = """\
# Fully pinned development environment, resolved from base.in for CPython 3.11 on
# x86_64 Linux. Regenerate with `make lock` after editing base.in.
# torch is pinned without a local label: pip takes the CPU build (2.13.0+cpu) where
# it lies in pip's find-links, and PyPI's build elsewhere.
"""


def main(source: str, target: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
             "--report", str(report), "-r", source],
            check=True,
        )
        items = json.loads(report.read_text())["install"]
    pins = sorted(
        (item["metadata"]["name"], item["metadata"]["version"].split("+")[0]) for item in items
    )
    Path(target).write_text(HEADER + "".join(f"{name}=={version}\n" for name, version in pins))
    print(f"wrote {len(pins)} pins to {target}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
