"""Kernels on the H100: generated matmul, tuning, float16, casts, elementwise (issue 15)."""
from .common import lines, size


def render():
    out = []
    # Kernels (tmath-bench kernels; bench/matmul.mjs on Dawn; torch_reference.py kernels), issue 15.
    kern = [r for r in lines("h100-kernels.jsonl") if r["suite"] == "kernels"]
    eng = [r for r in lines("h100-kernels-engines.jsonl") if r["suite"] == "kernels"]
    dmm = lines("h100-dawn-matmul.jsonl")
    packed = [r for r in lines("h100-dawn-matmul-packed.jsonl") if r.get("case") == "resident_f16_packed"]
    packed_native = [r for r in lines("h100-dawn-matmul-packed.jsonl")
                     if r.get("case") == "resident_f16" and r.get("accumulate") == "float32"]
    tk = lines("h100-torch-kernels.jsonl")
    t_mm = {r["n"]: r for r in tk if r.get("case") == "matmul_f32_no_tf32"}
    t_bw = {r["op"]: r["gb_s"] for r in tk if r.get("case") == "bandwidth"}
    copy = t_bw["copy"]


    def mm(n, dtype, tiles="chosen", case="matmul"):
        return next(r for r in kern if r["case"] == case and r["n"] == n and r["dtype"] == dtype and r["tiles"] == tiles)


    def dawn(n, case="resident", library="tmath", accumulate=None):
        return next(r for r in dmm if r.get("case") == case and r.get("n") == n and r.get("library") == library
                    and (accumulate is None or r.get("accumulate") == accumulate))


    out += [
        "## Kernels on the H100 (matmul tile shapes and tuning, float16 arithmetic, vector casts and ops)",
        "",
        "```sh",
        "python3 bench/torch_reference.py kernels > bench/data/h100-torch-kernels.jsonl",
        "tmath-bench kernels --json > bench/data/h100-kernels.jsonl                 # native, wgpu on Vulkan",
        "TFJS_BUNDLE=$PWD/tfjs.mjs node bench/matmul.mjs > bench/data/h100-dawn-matmul.jsonl   # Dawn in Node",
        "```",
        "",
        "Each suite first runs `tune_matmul` (native: %.1f s; Dawn: %.1f s). Its choices, per size:"
        % (next(r for r in kern if r["case"] == "tuned")["tuning_s"], next(r for r in dmm if r.get("case") == "tuning")["seconds"]),
        "",
        "| size | native | Dawn |",
        "|---|---|---|",
    ]
    dawn_choices = {c["size"]: c["tiles"] for c in next(r for r in dmm if r.get("case") == "tuning")["choices"]}
    for r in [r for r in kern if r["case"] == "tuned"]:
        out.append(f"| {r['n']} | {r['tiles']} ({r['ms'] * 1e3:.0f} µs) | {dawn_choices.get(r['n'], '-')} |")
    out += [
        "",
        "Resident matmul, TFLOP/s (ms per product): tmath with the tuned shape, PyTorch FP32 with TF32",
        "off, and on Dawn (Chrome's WebGPU implementation) tmath against TensorFlow.js 4.22's WebGPU",
        "backend, in one process on the same GPU.",
        "",
        "| n | tmath f32 | PyTorch f32 | tmath / PyTorch | tmath f16-in | f16 math | f16 math / f32 | Dawn tmath | Dawn / native time | TF.js on Dawn | Dawn tmath / TF.js |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in [1024, 2048, 4096]:
        f32, f16, f16m = mm(n, "float32"), mm(n, "float16"), mm(n, "float16", "chosen, f16 math")
        ref, d, tf = t_mm[n], dawn(n), dawn(n, library="tfjs")
        out.append(
            f"| {n} | {f32['tflop_s']:.1f} ({f32['ms']:.3f}) | {ref['tflop_s']:.1f} ({ref['ms']:.3f}) | "
            f"{f32['tflop_s'] / ref['tflop_s'] * 100:.0f}% of its rate, {f32['ms'] / ref['ms']:.2f}× its time | "
            f"{f16['tflop_s']:.1f} | {f16m['tflop_s']:.1f} | {f16m['tflop_s'] / f32['tflop_s']:.2f}× | "
            f"{d['tflop_s']:.1f} ({d['ms']:.3f}) | {d['ms'] / f32['ms']:.2f}× | {tf['tflop_s']:.1f} | {d['tflop_s'] / tf['tflop_s']:.1f}× |"
        )
    out += [
        "",
        "Chains (`c ← c × b`, each product waiting for the one before) run at the same rates within",
        "a few percent (`matmul_chain` lines). On Dawn, float16 inputs run at %.0f–%.0f TFLOP/s and"
        % (min(dawn(n, 'resident_f16', accumulate='float32')['tflop_s'] for n in [1024, 2048, 4096]),
           max(dawn(n, 'resident_f16', accumulate='float32')['tflop_s'] for n in [1024, 2048, 4096])),
        "float16 arithmetic does not change that: Dawn's compiler gains nothing from it here. Nor is",
        "it the `f16` type: a later call (`h100-dawn-matmul-packed.jsonl`) ran float16 inputs on a",
        "device without `shader-f16` (integer unpacking) at %s TFLOP/s for 1024/2048/4096, the same as"
        % " / ".join(f"{r['tflop_s']:.1f}" for r in packed),
        "with it (%s); the cost lies elsewhere on the 16-bit path on Dawn (not found yet)."
        % " / ".join(f"{r['tflop_s']:.1f}" for r in packed_native),
        "",
        f"Bandwidth on 64M elements, GB/s (bytes read + written); PyTorch's copy of the same 256 MiB: {copy:.0f},",
        f"its add {t_bw['add']:.0f}, mul {t_bw['mul']:.0f}, float32 → float16 {t_bw['cast_f32_f16']:.0f}.",
        "\"16 B\" is the new path (16 bytes per invocation); \"1 word\" the previous one, measured on a length",
        "one element short of it in the same run.",
        "",
        "| work | 16 B | of PyTorch's copy | 1 word | 16 B / 1 word |",
        "|---|---|---|---|---|",
    ]
    for r in [r for r in kern if r["case"] in ("elementwise", "cast") and r["form"] == "vec4"]:
        key = r.get("op") or f"{r['from']} → {r['to']}"
        w = next(x for x in kern if x["case"] == r["case"] and x["form"] == "words"
                 and x.get("op") == r.get("op") and x.get("from") == r.get("from") and x.get("to") == r.get("to"))
        out.append(f"| {key} | {r['gb_s']:.0f} | {r['gb_s'] / copy * 100:.0f}% | {w['gb_s']:.0f} | {r['gb_s'] / w['gb_s']:.2f} |")
    out += [
        "",
        "Against the issue's targets: f32 matmul at 1024 takes %.2f× PyTorch's time (target 1.3×: met);"
        % (mm(1024, "float32")["ms"] / t_mm[1024]["ms"]),
        "at 4096 it reaches %.0f%% of PyTorch's rate (target 75%%: **not met**; it was 39%%). float16"
        % (mm(4096, "float32")["tflop_s"] / t_mm[4096]["tflop_s"] * 100),
        "arithmetic gives %.2f× the f32 rate at 4096 (target 1.5×: **not met**). Casts reach at least"
        % (mm(4096, "float16", "chosen, f16 math")["tflop_s"] / mm(4096, "float32")["tflop_s"]),
        "%.0f%% of PyTorch's copy and add/mul %.0f%% (targets 70%% and 80%%: met). On Dawn, tmath is"
        % (min(r["gb_s"] for r in kern if r["case"] == "cast" and r["form"] == "vec4") / copy * 100,
           min(r["gb_s"] for r in kern if r["case"] == "elementwise" and r["form"] == "vec4" and r["op"] != "add_scalar") / copy * 100),
        "%.1f–%.1f× TF.js's throughput from 1024 to 4096 (target 3×: met) and within %.2f× of the"
        % (min(dawn(n)["tflop_s"] / dawn(n, library="tfjs")["tflop_s"] for n in [1024, 2048, 4096]),
           max(dawn(n)["tflop_s"] / dawn(n, library="tfjs")["tflop_s"] for n in [1024, 2048, 4096]),
           max(dawn(n)["ms"] / mm(n, "float32")["ms"] for n in [1024, 2048, 4096])),
        "native build's time (target 1.3×: met).",
        "",
        "The `kernels` lines also time every tile shape forced on an engine of its own over the same",
        "device. At 4096 those run at 18–22 TFLOP/s even for the shape the tuner picked. A later run",
        "(`h100-kernels-engines.jsonl`, same binary plus two diagnostic rows) shows why: the tuned",
        "shape on a second engine over the same device takes %.2f ms, on an engine of its own device"
        % next(r["ms"] for r in eng if r.get("tiles") == "chosen, second engine" and r["n"] == 4096),
        "%.2f ms, on the first engine %.2f ms. A second tmath engine on one wgpu device runs large"
        % (next(r["ms"] for r in eng if r.get("tiles") == "chosen, own device" and r["n"] == 4096),
           next(r["ms"] for r in eng if r.get("tiles") == "chosen" and r["n"] == 4096 and r["case"] == "matmul" and r["dtype"] == "float32")),
        "products about 1.5× slower on the H100 (not at 2048 and below, not on lavapipe); the cause is",
        "not found yet. So the per-shape rows compare shapes with each other, not with the tuned figure.",
        "",
    ]
    return out
