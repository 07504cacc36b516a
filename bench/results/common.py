"""What every section of bench/RESULTS.md reads: the raw measurements in bench/data/."""
import json
from pathlib import Path

DATA = Path(__file__).parent.parent / "data"


def lines(name):
    return [json.loads(l) for l in (DATA / name).read_text().splitlines() if l.startswith("{")]


def size(b):
    return f"{b >> 30} GiB" if b >= 1 << 30 else f"{b >> 20} MiB" if b >= 1 << 20 else f"{b >> 10} KiB"
