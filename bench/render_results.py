"""Render bench/RESULTS.md from the raw measurements in bench/data/ (JSON lines written by
`tmath-bench all --json` and `bench/torch_reference.py`) and the benchmark page's text report
(`node bench/page.mjs`, the browser half of `npm run bench`). One module per section, in
bench/results/.
Usage: python3 bench/render_results.py"""
from pathlib import Path

from results import bounded, hotpath, kernels, native

out = native.render() + hotpath.render() + bounded.render() + kernels.render()
(Path(__file__).parent / "RESULTS.md").write_text("\n".join(out))
