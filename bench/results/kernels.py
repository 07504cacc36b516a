"""Kernels on the H100: generated matmul, tuning, float16, casts, elementwise (issue 15)."""
import json

from .common import DATA, lines, size


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
        "(Builds from 8c1942b on no longer show it: see the end of \"Subgroup kernels\".)",
        "",
    ]
    return out + subgroups() + sixteen_bit() + packed_conversion() + dawn_shapes()


def subgroups():
    """The subgroup kernels (issue 15): four runs of the same native kernels, and Dawn."""
    runs = []
    for i in (1, 2, 3, 4):
        k = [r for r in lines(f"h100-kernels-subgroups-{i}.jsonl") if r["suite"] == "kernels"]
        t = {r["n"]: r for r in lines(f"h100-torch-kernels-subgroups-{i}.jsonl") if r.get("case") == "matmul_f32_no_tf32"}
        runs.append((k, t))
    dawn_sg = lines("h100-dawn-matmul-subgroups.jsonl")
    second = [r for r in lines("h100-kernels-second-engine.jsonl") if r["suite"] == "kernels"]

    def se(tiles):
        return next(r["ms"] for r in second if r["case"] == "matmul" and r["n"] == 4096
                    and r["dtype"] == "float32" and r["tiles"] == tiles)

    dawn_portable = lines("h100-dawn-matmul-subgroups-native-only.jsonl")

    def row(k, n, dtype, tiles, case="matmul"):
        return next(r for r in k if r["case"] == case and r["n"] == n and r["dtype"] == dtype and r["tiles"] == tiles)

    def best(k, n, dtype, subgroup, suffix=""):
        rows = [r for r in k if r["case"] == "matmul" and r["n"] == n and r["dtype"] == dtype
                and not r["tiles"].startswith("chosen") and r["tiles"].endswith(suffix)
                and ("-sg" in r["tiles"]) == subgroup]
        return max(rows, key=lambda r: r["tflop_s"])

    def dawn(d, n, library="tmath"):
        return next(r for r in d if r.get("case") == "resident" and r.get("n") == n and r.get("library") == library)

    out = [
        "### Subgroup kernels",
        "",
        "`16x4x32-sg` and its smaller siblings (`src/kernels/matmul.rs`): B's slice in workgroup memory,",
        "A straight from global memory into registers, one element per invocation and row, shared",
        "within each row of 32 invocations by `subgroupBroadcast`. The tuner measures them with the",
        "portable shapes. Four calls on the device, each `tmath-bench kernels --json` and",
        "`torch_reference.py kernels` in one call (`bench/data/h100-kernels-subgroups-{1,2,3,4}.jsonl`,",
        "`h100-torch-kernels-subgroups-{1,2,3,4}.jsonl`; the native kernels are the same in all four;",
        "run 4 is a later session's, with the arithmetic peak added).",
        "Tuning now takes %.1f–%.1f s natively, with five more shapes to measure."
        % (min(next(r for r in k if r["case"] == "tuned")["tuning_s"] for k, _ in runs),
           max(next(r for r in k if r["case"] == "tuned")["tuning_s"] for k, _ in runs)),
        "",
        "f32 TFLOP/s, ms per product in brackets. \"Best portable\" is the fastest shape without",
        "subgroups, timed in the same run on an engine of its own device.",
        "",
        "| n | run | tuned shape | tmath f32 | best portable | PyTorch f32 (TF32 off) | tmath / PyTorch |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in [1024, 2048, 4096]:
        for i, (k, t) in enumerate(runs, 1):
            tuned = next(r["tiles"] for r in k if r["case"] == "tuned" and r["n"] == n)
            f32, port, ref = row(k, n, "float32", "chosen"), best(k, n, "float32", False), t[n]
            out.append(
                f"| {n} | {i} | {tuned} | {f32['tflop_s']:.1f} ({f32['ms']:.3f}) | {port['tflop_s']:.1f} ({port['tiles']}) | "
                f"{ref['tflop_s']:.1f} ({ref['ms']:.3f}) | {f32['tflop_s'] / ref['tflop_s'] * 100:.0f}% of its rate, "
                f"{f32['ms'] / ref['ms']:.2f}× its time |"
            )
    out += [
        "",
        "float16 inputs at 4096, TFLOP/s: widened to float32 on load (\"f16 in\"), float16 arithmetic",
        "with the tuned (float32) shape, and the fastest shape for float16 arithmetic in the same run.",
        "",
        "| run | f32 | f16 in | f16 math | best f16 math | best f16 math / f32 |",
        "|---|---|---|---|---|---|",
    ]
    for i, (k, _) in enumerate(runs, 1):
        f32, f16, f16m = (row(k, 4096, "float32", "chosen"), row(k, 4096, "float16", "chosen"),
                          row(k, 4096, "float16", "chosen, f16 math"))
        top = max((best(k, 4096, "float16", s, ", f16 math") for s in (False, True)), key=lambda r: r["tflop_s"])
        top = max((top, f16m), key=lambda r: r["tflop_s"])
        out.append(
            f"| {i} | {f32['tflop_s']:.1f} | {f16['tflop_s']:.1f} | {f16m['tflop_s']:.1f} | "
            f"{top['tflop_s']:.1f} ({top['tiles'].replace(', f16 math', '')}) | {top['tflop_s'] / f32['tflop_s']:.2f}× |"
        )
    dawn_choices = {c["size"]: c["tiles"] for c in next(r for r in dawn_sg if r.get("case") == "tuning")["choices"]}
    k3 = runs[2][0]
    out += [
        "",
        "On Dawn in Node (`node bench/matmul.mjs`, TF.js 4.22 in the same process): wgpu 30's WebGPU",
        "backend does not request WebGPU's `subgroups` feature, so `Engine.create` now asks for it",
        "where the adapter has it. Before: the build of run 2, whose web engines had no subgroups",
        "(`h100-dawn-matmul-subgroups-native-only.jsonl`); after: run 3's call",
        "(`h100-dawn-matmul-subgroups.jsonl`), next to that run's native figures.",
        "",
        "| n | Dawn tuned shape | Dawn ms, before | Dawn ms, after | after / native time | TF.js ms | after / TF.js rate |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in [1024, 2048, 4096]:
        before, after, tf = dawn(dawn_portable, n), dawn(dawn_sg, n), dawn(dawn_sg, n, "tfjs")
        native = row(k3, n, "float32", "chosen")
        out.append(
            f"| {n} | {dawn_choices.get(n, '-')} | {before['ms']:.3f} | {after['ms']:.3f} | "
            f"{after['ms'] / native['ms']:.2f}× | {tf['ms']:.3f} | {after['tflop_s'] / tf['tflop_s']:.1f}× |"
        )
    worst = max(r["worst_relative_error"] for r in dawn_sg if r.get("case") == "check")
    pct = [row(k, 4096, "float32", "chosen")["tflop_s"] / t[4096]["tflop_s"] * 100 for k, t in runs]
    out += [
        "",
        f"Dawn's products match a float64 reference within {worst:.1e} (relative) at every size. The native",
        "matmul tests (`tests/native_matmul.rs`: every shape and input format against float64, random",
        "and adversarial inputs, batches) pass on the H100 as built here, one process per test: in",
        "one process the NVIDIA driver refused new instances after a few dozen engines.",
        "",
        "Against the targets: f32 at 4096 reaches %.0f–%.0f%% of PyTorch's FP32 rate across the four"
        % (min(pct), max(pct)),
        "runs (target 75%%: met in %d of them, %s, %.1f%% on average; 61%% before);"
        % (sum(round(x) >= 75 for x in pct), ", ".join(f"{x:.0f}%" for x in pct), sum(pct) / len(pct)),
        "at 1024 tmath takes %.2f–%.2f× PyTorch's time (target 1.3×: met)."
        % (min(row(k, 1024, "float32", "chosen")["ms"] / t[1024]["ms"] for k, t in runs),
           max(row(k, 1024, "float32", "chosen")["ms"] / t[1024]["ms"] for k, t in runs)),
        "float16 inputs now run about as fast as float32 ones, but float16 arithmetic stays at",
        "1.0–1.1× the f32 rate (target 1.5×: **not met**, and out of reach on this GPU: see the",
        "arithmetic peak below). On Dawn the subgroup kernels win from 128",
        "to 2048 in tuning; a product of 1024 takes %.0f%% less time, 2048 and 4096 the same (at 4096"
        % ((1 - dawn(dawn_sg, 1024)["ms"] / dawn(dawn_portable, 1024)["ms"]) * 100),
        "Dawn's tuning keeps 8x8x8). Dawn stays within 1.3× of the native time (target met) at",
        "5–8× TF.js's rate (target 3×: met).",
        "",
        "A second engine over one device (`h100-kernels-second-engine.jsonl`, a later call of the",
        "same kernels with two more rows): at 4096 the first engine takes %.2f ms per product, a"
        % se("chosen"),
        "second engine over its device %.2f ms, an engine of its own device %.2f ms, and the first"
        % (se("chosen, second engine"), se("chosen, own device")),
        "engine again, once the second is gone, %.2f ms (%.2f ms with 8 products per wait). So the"
        % (se("chosen, again after a second engine"), se("chosen, again, 8 per wait")),
        "second engine is slow, not the device. In a scratch build (not kept), the first engine's",
        "products were slow too (5.7–5.9 ms) once its pool had been trimmed and its outputs were",
        "buffers made anew: where new 64 MiB buffers land on the device seems to decide, not which",
        "engine runs the kernel. Not solved; at 2048 and below the three agree within the spread.",
        "",
    ] + second_engine_gone() + peak() + [
        "Tried and dropped: two 4-column groups per invocation (`8x8x32-sg`, `16x8x32-sg`, 32 KiB of",
        "workgroup memory): within the spread of `16x4x32-sg` at every size. Loading the next step's A",
        "and B into registers during the current one: 10–15% slower at 4096 (the 16-row kernel runs",
        "short of registers), and with the 16×8 shape float16 inputs fell to 6 TFLOP/s at 2048.",
        "",
    ]
    out += variants()
    return out


def variants():
    """Scratch builds of the subgroup kernel timed side by side (a later session): none kept."""
    rows = lines("h100-matmul-variants-1.jsonl") + lines("h100-matmul-variants-2.jsonl")
    torch = lines("h100-torch-matmul-variants-1.jsonl") + lines("h100-torch-matmul-variants-2.jsonl")
    at = lambda build, tiles: [r["tflop_s"] for r in rows if r["build"] == build and r["tiles"] == tiles and r["n"] == 4096]
    rng = spread
    pt = [r["tflop_s"] for r in torch if r["n"] == 4096]
    out = [
        "Tried later and dropped, each a scratch build timed in one device call next to the kept",
        "kernel (`bench/data/h100-matmul-variants-{1,2}.jsonl`, 16x4x32-sg at 4096, TFLOP/s; PyTorch",
        f"in the same calls {rng(pt)}):",
        "",
        "| variant | TFLOP/s at 4096 | kept kernel, same call |",
        "| --- | --- | --- |",
    ]
    for build, what in [
        ("mm_v1", "loads without bounds checks where the block lies inside the matrices"),
        ("mm_v4", "two buffers of B's slice, one barrier per step"),
        ("mm_v5", "the same with the next slice held in registers"),
    ]:
        out.append(f"| {what} | {rng(at(build, '16x4x32-sg'))} | {rng(at('mm_before', '16x4x32-sg'))} |")
    out.append(f"| A's slice in workgroup memory too, read as vec4s a subgroup shares (no shuffles) | {rng(at('shared_a', '16x4x32-sg'))} | {rng(at('sg', '16x4x32-sg'))} |")
    out += [
        "",
        "Neither dropping bounds checks, nor halving the barriers, nor replacing the shuffles that",
        "carry A gains anything: what holds the kernel at 60% of the WGSL float32 ceiling is not",
        "found.",
        "",
    ] + variants_three() + unchecked_rows() + variants_four()
    return out


def variants_three():
    """Two more scratch variants of the subgroup kernel, one device call, two rounds (a later session)."""
    rows = lines("h100-matmul-variants-3.jsonl")
    torch = lines("h100-torch-matmul-variants-3.jsonl")
    rng = spread
    at = lambda build, tiles, n: rng([r["tflop_s"] for r in rows if r["build"] == build and r["tiles"] == tiles and r["n"] == n])
    out = [
        "Two more, a later session's scratch builds (`examples/`, not kept), each selected by an",
        "environment variable in one binary and run twice in one device call, alternating with the",
        "kept kernel (`bench/data/h100-matmul-variants-3.jsonl`; PyTorch before and after them,",
        "`h100-torch-matmul-variants-3.jsonl`), TFLOP/s. The first tests whether the 16 shuffles per",
        "k step (against one vec4 read of B) bound the kernel: A's slice goes to workgroup memory",
        "row by row as it loads (consecutive lanes, consecutive words: no bank conflicts), and each",
        "invocation reads one vec4 of four k steps per row, the same address across the subgroup,",
        "so a k step costs a quarter of a workgroup-memory read per row instead of a shuffle.",
        "",
        "| variant | 16x4x32-sg, 1024 | 2048 | 4096 | 8x4x32-sg, 4096 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for build, what in [
        ("base", "kept kernel (8 rows of 32 invocations, A by `subgroupBroadcast`)"),
        ("wa8", "A through workgroup memory, read as vec4s along k (no shuffles)"),
        ("wa4", "the same in workgroups of 4 rows of 32 (128 invocations)"),
        ("sg4", "kept kernel in workgroups of 4 rows of 32"),
    ]:
        out.append(f"| {what} | {at(build, '16x4x32-sg', 1024)} | {at(build, '16x4x32-sg', 2048)} | "
                   f"{at(build, '16x4x32-sg', 4096)} | {at(build, '8x4x32-sg', 4096)} |")
    pt = lambda n: rng([r["tflop_s"] for r in torch if r["n"] == n])
    out += [
        f"| PyTorch f32 (TF32 off) | {pt(1024)} | {pt(2048)} | {pt(4096)} | |",
        "",
        "Without shuffles the kernel runs 15% slower at 4096 (31.2–31.4 against 36.9–37.3), and",
        "smaller workgroups lose too: the shuffles are not what holds it at 60% of the ceiling.",
        "PyTorch's product of 1024 took 0.058 ms in this call (0.076–0.088 in the calls above); the",
        "kept kernels took 0.067–0.073 ms there, 1.15–1.27× its time (target 1.3×: still met).",
        "",
    ]
    return out


def variants_four():
    """Five more scratch variants of the subgroup kernel, three device calls of two rounds (a later session)."""
    rows = lines("h100-matmul-variants-4.jsonl")
    rng = spread
    name = lambda r: r["build"].rsplit("-", 1)[0]
    tf = lambda variant, tiles, n, calls=(1, 2, 3): [r["tflop_s"] for r in rows if r["build"] != "torch"
                                                      and name(r) == variant and r["tiles"] == tiles
                                                      and r["n"] == n and r["call"] in calls]
    torch = lambda n, calls=(1, 2, 3): [r["tflop_s"] for r in rows if r["build"] == "torch" and r["n"] == n and r["call"] in calls]
    out = [
        "Six more ideas in eleven variants, a later session's, selected by an environment variable in one scratch binary",
        "(`examples/`, not kept), in four device calls, each of two rounds alternating with the",
        "kept kernel, PyTorch before and after (`bench/data/h100-matmul-variants-4.jsonl`; `call`",
        "numbers the calls), TFLOP/s:",
        "",
        "| variant | call | 16x4x32-sg, 1024 | 2048 | 4096 | 8x4x32-sg, 4096 | kept kernel, same call, 16x4x32-sg 4096 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for variant, call, what in [
        ("swz8", 1, "workgroups taken in groups of 8 block rows (for L2 reuse)"),
        ("swz4", 1, "the same, groups of 4 block rows"),
        ("at", 1, "A's slice transposed in workgroup memory, read as vec4 broadcasts along rows (no shuffles)"),
        ("at,swz8", 1, "the same, groups of 8 block rows"),
        ("at,v4", 2, "A transposed, stored as whole vec4s (four rows of one k per invocation)"),
        ("nofb", 3, "no branch for subgroups other than 32 wide (valid on NVIDIA only)"),
        ("nofb,pfb", 3, "the same, the next step's B slice loaded into registers during this one"),
        ("pfb", 3, "the next step's B slice in registers, the branch kept"),
        ("loop4", 4, "the 32 k steps as a loop of 8 × 4 unrolled (`subgroupShuffle` by the loop's lane)"),
        ("loop8", 4, "the same, a loop of 4 × 8 unrolled"),
        ("loop16", 4, "the same, a loop of 2 × 16 unrolled"),
    ]:
        c = (call,)
        out.append(f"| {what} | {call} | {rng(tf(variant, '16x4x32-sg', 1024, c))} | {rng(tf(variant, '16x4x32-sg', 2048, c))} | "
                   f"{rng(tf(variant, '16x4x32-sg', 4096, c))} | {rng(tf(variant, '8x4x32-sg', 4096, c))} | "
                   f"{rng(tf('kept', '16x4x32-sg', 4096, c))} |")
    kept = tf("kept", "16x4x32-sg", 4096)
    pt = torch(4096)
    ms1024 = [2 * 1024 ** 3 / t / 1e9 for t in tf("kept", "16x4x32-sg", 1024)]
    pt1024 = [2 * 1024 ** 3 / t / 1e9 for t in torch(1024)]
    out += [
        f"| PyTorch f32 (TF32 off) | 1–4 | {rng(torch(1024))} | {rng(torch(2048))} | {rng(pt)} | | |",
        "",
        "Nothing gains beyond the spread. The grouped order changes nothing, so the order in which",
        "workgroups share operands in L2 does not limit it. Removing the branch for other subgroup widths",
        "changes nothing either, so the code it adds costs the 32-wide path no registers that",
        "matter; the B prefetch loses 1–3%, as every added register has. A transposed in workgroup",
        "memory and read by broadcast, the classic layout that needs no shuffles, runs at about 60%",
        "of the kept kernel; storing it as whole vec4s helps the 8-row shape (23 to 28) but not the",
        "16-row one (about 21.5): on this driver four broadcast vec4 reads per k step cost far more",
        "than the 16 shuffles they replace. Nor is the unrolled loop too long for the instruction",
        "cache: rolled up it loses 13–15% at 4096 whatever the unrolling. In these calls the",
        "kept kernel ran %s TFLOP/s at 4096"
        % rng(kept),
        "against PyTorch's %s, %.0f–%.0f%% of its rate (target 75%%), and at 1024 took %.2f–%.2f× PyTorch's"
        % (rng(pt), min(kept) / max(pt) * 100, max(kept) / min(pt) * 100,
           min(ms1024) / max(pt1024), max(ms1024) / min(pt1024)),
        "time (target 1.3×: met).",
        "",
    ]
    return out


def unchecked_rows():
    """Kernels compiled without naga's bounds checks and loop bounding, a diagnostic (a later session)."""
    runs = {}
    torch = {}
    who = None
    for line in (DATA / "h100-kernels-unchecked-diagnostic.txt").read_text().splitlines():
        if line.startswith("-- "):
            who = line[3:].split()[0]
        elif line.strip().startswith("matmul ") and "float32" in line:
            _, n, _, tf, _ = line.split()
            runs.setdefault((who, int(n)), []).append(float(tf))
        elif line.startswith("{"):
            r = json.loads(line)
            torch[r["n"]] = r["tflop_s"]
    rng = spread
    out = [
        "Nor is it naga's own checks: the kernels built in a scratch build with wgpu's unsafe",
        "`create_shader_module_trusted(.., ShaderRuntimeChecks::unchecked())` (no bounds checks,",
        "no loop bounding; not kept, the crate forbids `unsafe`), two runs of",
        "`tmath-bench kernels` alternating with main's in one device call",
        "(`bench/data/h100-kernels-unchecked-diagnostic.txt`), f32 products at the tuned shape,",
        "TFLOP/s:",
        "",
        "| n | main | without naga's checks | PyTorch f32, same call | main / PyTorch |",
        "|---|---|---|---|---|",
    ]
    for n in (1024, 2048, 4096):
        m = runs[("head", n)]
        lo, hi = f"{min(m) / torch[n]:.0%}", f"{max(m) / torch[n]:.0%}"
        out.append(f"| {n} | {rng(m)} | {rng(runs[('unchecked', n)])} | {torch[n]:.1f} | "
                   f"{lo if lo == hi else lo + '–' + hi} |")
    out += [
        "",
        "At 4096 the two builds tie (37.9–38.0); at 1024 and 2048 the tuner picked other shapes",
        "from run to run, so those rows compare tunings as much as checks. bfloat16 inputs, which",
        "unpack through more indexing, gained most (29.1–29.5 to 33.9–34.3 at 4096). In this call",
        "main's f32 product at 4096 reached 75% of PyTorch's rate.",
        "",
    ]
    return out


def peak():
    """The FMA ceiling (run 4): WGSL through wgpu, and CUDA through cupy, float32 against float16."""
    k = [r for r in lines("h100-kernels-subgroups-4.jsonl") if r.get("case") == "fma_peak"]
    t = [r for r in lines("h100-torch-kernels-subgroups-4.jsonl") if r.get("case") == "fma_peak"]
    wgsl = {r["dtype"]: r["tflop_s"] for r in k}
    cuda = {r["dtype"]: r["tflop_s"] for r in t}
    run4 = [r for r in lines("h100-kernels-subgroups-4.jsonl") if r.get("suite") == "kernels"]
    f32 = next(r for r in run4 if r["case"] == "matmul" and r["n"] == 4096 and r["dtype"] == "float32"
               and r["tiles"] == "chosen")
    f16 = max((r for r in run4 if r["case"] == "matmul" and r["n"] == 4096 and r["dtype"] == "float16"
               and "f16 math" in r["tiles"]), key=lambda r: r["tflop_s"])
    return [
        "The arithmetic ceiling, run 4: fused multiply-adds only, 16 independent chains per",
        "invocation, float32 against float16 (`tmath-bench kernels`' `fma_peak` rows: WGSL `vec4`s",
        "through wgpu on Vulkan; `torch_reference.py kernels`: the same loop in CUDA through cupy,",
        "`fmaf` against `__hfma2`, two float16 multiply-adds per instruction), TFLOP/s:",
        "",
        "| path | float32 | float16 | float16 / float32 |",
        "|---|---|---|---|",
        f"| WGSL (wgpu, Vulkan) | {wgsl['float32']:.1f} | {wgsl['float16']:.1f} | {wgsl['float16'] / wgsl['float32']:.2f}× |",
        f"| CUDA (`__hfma2`) | {cuda['float32']:.1f} | {cuda['float16']:.1f} | {cuda['float16'] / cuda['float32']:.2f}× |",
        f"| matmul 4096 (tuned f32; best f16 arithmetic) | {f32['tflop_s']:.1f} | {f16['tflop_s']:.1f} | {f16['tflop_s'] / f32['tflop_s']:.2f}× |",
        "",
        "On this H100 the non-tensor float16 units multiply-add no faster than the float32 ones,",
        "in CUDA too, so no kernel without tensor cores can run float16 arithmetic 1.5× faster than",
        "float32; the 1.1× tmath reaches comes from moving half the bytes. Tensor cores are out of",
        "reach from WGSL here: wgpu 30's `EXPERIMENTAL_COOPERATIVE_MATRIX` needs `unsafe` to enable",
        "and supports 8×8 float32 tiles only (not what NVIDIA's Vulkan driver offers), and Dawn in",
        "Node on this GPU listed neither a subgroup-matrix feature nor even `shader-f16` (its",
        "adapter's features, printed in a scratch run). The matmul reaches",
        "%.0f%% of the WGSL float32 ceiling; cuBLAS reaches %.0f%% of CUDA's." % (
            f32["tflop_s"] / wgsl["float32"] * 100,
            next(r for r in lines("h100-torch-kernels-subgroups-4.jsonl") if r.get("case") == "matmul_f32_no_tf32"
                 and r["n"] == 4096)["tflop_s"] / cuda["float32"] * 100),
        "",
    ]


def spread(v):
    """A range of TFLOP/s figures, one decimal: "36.9–37.3", or one figure where they agree."""
    lo, hi = f"{min(v):.1f}", f"{max(v):.1f}"
    return lo if lo == hi else f"{lo}–{hi}"


def sixteen_bit():
    """bfloat16 into the subgroup kernel; packed float16 widened without branches (a later session)."""
    def chosen(name, dtype, tiles="chosen"):
        return {r["n"]: r["tflop_s"] for r in lines(name)
                if r.get("case") == "matmul" and r["dtype"] == dtype
                and (r["tiles"] == tiles if tiles == "chosen" else r["tiles"].startswith(tiles))}
    before, after = "h100-kernels-sixteen-before.jsonl", "h100-kernels-sixteen-after.jsonl"
    variant = lambda v: chosen(f"h100-kernels-sixteen-variant-{v}.jsonl", "float16", "chosen, packed")
    portable = chosen(after, "float16", "portable, packed")
    sg_packed = variant("subgroup-packed")
    branchy, unpack = variant("branchy"), variant("unpack")
    out = [
        "### 16-bit inputs in the subgroup kernels",
        "",
        "bfloat16 inputs now run the subgroup kernels too (A's words unpacked by a shift as they",
        "load, B's four columns from two words), and float16 packed two to a word (devices",
        "without `shader-f16`, such as Dawn in Node on this H100) widens by a branch-free integer",
        "conversion, exact for zeros and subnormals (`PACKED_F16` in `src/kernels/matmul.rs`;",
        "`float16_inputs_widen_exactly_on_every_path_subnormals_included` checks every class of",
        "finite float16 through an identity product on every path). Before: a1c4d9c; after: this",
        "change. Native, `tmath-bench kernels --json`, one run each, TFLOP/s",
        "(`bench/data/h100-kernels-sixteen-{before,after}.jsonl`); the packed float16 rows come",
        "from an engine on a device of the same adapter made without `shader-f16`:",
        "",
        "| n | float32 (after's run) | bfloat16 before (portable) | bfloat16 after (subgroup) | packed f16, portable (kept) | packed f16 in the subgroup kernel, branch-free | the same, branching to `f16_to_f32` for rare classes | the same, `unpack2x16float` |",
        "|---|---|---|---|---|---|---|---|",
    ]
    f32 = chosen(after, "float32")
    for n in (1024, 2048, 4096):
        out.append(f"| {n} | {f32[n]:.1f} | {chosen(before, 'bfloat16')[n]:.1f} | {chosen(after, 'bfloat16')[n]:.1f} | "
                   f"{portable[n]:.1f} | {sg_packed[n]:.1f} | {branchy[n]:.1f} | {unpack[n]:.1f} |")

    def dawn(prefix, case):
        runs = [[r for r in lines(f"h100-dawn-matmul-sixteen-{prefix}-{i}.jsonl") if r.get("case") == case
                 and r.get("library", "tmath") == "tmath" and r.get("accumulate", "float32") == "float32"] for i in (1, 2)]
        return {n: [next(r["tflop_s"] for r in run if r["n"] == n) for run in runs] for n in (1024, 2048, 4096)}
    rng = lambda xs: f"{min(xs):.1f}–{max(xs):.1f}"
    gains = [(chosen(after, "bfloat16")[n] / chosen(before, "bfloat16")[n] - 1) * 100 for n in (1024, 2048, 4096)]
    rows = [("float32 (unchanged)", "resident"), ("float16, the engine's device (packed: no `shader-f16` on Dawn here)", "resident_f16"),
            ("float16, a device without subgroups (packed, portable)", "resident_f16_packed"), ("bfloat16", "resident_bf16")]
    out += [
        "",
        "bfloat16 gains %.0f–%.0f%% natively (%.1f → %.1f TFLOP/s at 4096). Packed float16 runs"
        % (min(gains), max(gains), chosen(before, "bfloat16")[4096], chosen(after, "bfloat16")[4096]),
        "slower in the subgroup kernel than in the best portable shape whatever the conversion",
        "(%.1f–%.1f against %.1f at 4096), so the tuner's choice sends it to the portable shapes;"
        % (min(sg_packed[4096], branchy[4096], unpack[4096]), max(sg_packed[4096], branchy[4096], unpack[4096]), portable[4096]),
        "a fixed subgroup shape still runs it (`tuning::subgroups_allowed`). Why the packed",
        "float16 loads cost the subgroup kernel so much more than the bfloat16 ones is not found.",
        "",
        "On Dawn in Node on the same GPU (`node bench/matmul.mjs [--root DIR]`, the before build",
        "passed as `--root`, two runs each, alternating; `bench/data/h100-dawn-matmul-sixteen-*.jsonl`),",
        "TFLOP/s:",
        "",
        "| inputs | n | before | after |",
        "|---|---|---|---|",
    ]
    for label, case in rows:
        b, a = dawn("before", case), dawn("after", case)
        for n in (1024, 2048, 4096):
            out.append(f"| {label} | {n} | {rng(b[n])} | {rng(a[n])} |")
    out += [
        "",
        "On Dawn float16 inputs, which arrive packed there, gain 5–30% from the branch-free",
        "conversion (the portable kernels called the casts' `f16_to_f32` for every element before).",
        "bfloat16 inputs on Dawn do not gain: the same at 4096, and at 2048 a few percent slower in",
        "these runs (20.5–25.4 TFLOP/s over six runs of the subgroup kernel in this session's",
        "calls, against 24.1–25.0 in four of the portable one; the float32 products of the slow",
        "runs were slow too). Dawn's compiler already ran the portable bfloat16 kernel near the",
        "float32 rate. float16 inputs still trail float32 on Dawn (26 against 31 TFLOP/s at 4096).",
        "",
    ]
    return out



def packed_conversion():
    """Packed float16's zeros and subnormals widened by float arithmetic instead of an int-to-float conversion (tried, not kept)."""
    rows = lines("h100-matmul-packed-f16-conversion.jsonl")
    rng = spread
    at = lambda build, tiles, n: rng([r["tflop_s"] for r in rows if r["build"] == build and r["tiles"] == tiles and r["n"] == n])

    def dawn(build, case, n):
        v = []
        for i in (1, 2):
            v += [r["tflop_s"] for r in lines(f"h100-dawn-matmul-h2f-{build}-{i}.jsonl")
                  if r.get("case") == case and r["n"] == n and r.get("accumulate", "float32") == "float32"]
        return rng(v)
    out = [
        "A later session tried the other half of the conversion: a zero or subnormal widened as",
        "2⁻¹⁴·(1 + m/1024) − 2⁻¹⁴ (the exponent bits set to 2⁻¹⁴, one float subtraction; both",
        "operands and the result normal or zero, so exact on a flushing GPU too) instead of",
        "`f32(m)` × 2⁻²⁴, which costs an int-to-float conversion, a quarter-rate instruction on",
        "NVIDIA GPUs. `float16_inputs_widen_exactly_on_every_path_subnormals_included` passed with",
        "it, and failed with the constant off by one part in 10⁵. Native (a scratch binary,",
        "fixed shapes on a device of the H100 made without `shader-f16`, two runs per build,",
        "alternating, one device call; `bench/data/h100-matmul-packed-f16-conversion.jsonl`) and on",
        "Dawn in Node (`node bench/matmul.mjs --root DIR`, two runs per build, alternating;",
        "`h100-dawn-matmul-h2f-{base,new}-{1,2}.jsonl`), packed float16 inputs, TFLOP/s:",
        "",
        "| where | shape | n | kept conversion | float subtraction |",
        "| --- | --- | --- | --- | --- |",
    ]
    native = [("native", tiles, n, at("mm_base", tiles, n), at("mm_new", tiles, n))
              for tiles in ("4x8x16", "8x8x8", "16x4x32-sg", "8x4x32-sg") for n in (1024, 2048, 4096)]
    on_dawn = [(what, "tuned", n, dawn("base", case, n), dawn("new", case, n))
               for case, what in (("resident_f16", "Dawn, the engine's choice"),
                                  ("resident_f16_packed", "Dawn, a device without subgroups"))
               for n in (1024, 2048, 4096)]
    out += ["| " + " | ".join(str(x) for x in row) + " |" for row in native + on_dawn]
    out += [
        "",
        "Natively no difference beyond the spread at any shape. On Dawn the engine's own device",
        "shows none either, while the device without subgroups measured 10–19% faster at 1024 and",
        "2048 in both runs; each of those engines tunes its own portable shape per run, so one",
        "row gaining where the other does not reads as tuning and noise more than the conversion.",
        "The conversion stays as it was. What the table",
        "shows instead: natively, packed float16 runs fastest in `8x8x8` from 2048 up",
        f"({at('mm_base', '8x8x8', 4096)} TFLOP/s at 4096 against {at('mm_base', '4x8x16', 4096)} for `4x8x16`, the portable shape",
        "the float32 tuning picks there), and in `4x8x16` at 1024. The tuner times float32 products",
        "only, so a native device without `shader-f16` runs packed float16 about a fifth slower",
        "than its best shape at 4096; on Dawn the float32 tuning already picks `8x8x8` there. Not",
        "changed: it would take a tuning pass per input format, for a case (no `shader-f16`",
        "natively) that the H100's own devices do not have.",
        "",
    ]
    return out


def second_engine_gone():
    """The second engine's slowness, bisected to the params write per submission (a later session)."""
    def ms(build, tiles, n=4096):
        return next(r["ms"] for r in lines(f"h100-kernels-second-engine-{build}.jsonl")
                    if r.get("case") == "matmul" and r["dtype"] == "float32" and r["tiles"] == tiles and r["n"] == n)
    cases = [("chosen", "first engine"), ("chosen, second engine", "second engine over its device"),
             ("chosen, own device", "engine of its own device"), ("chosen, again after a second engine", "first engine again")]
    # Oldest first; the first call ran c8c45c0 and 3e8077a, the second the next four, the third the last two.
    builds = ["c8c45c0", "f25dc71", "4c02e87", "a063fa5", "cb65154", "0f4de0d", "8c1942b", "3e8077a"]
    out = [
        "A later session bisected it: the `tmath-bench kernels` binaries of commits from c8c45c0 (the",
        "build that measured the file above) to 3e8077a, built here and run on the H100 in three",
        "device calls (c8c45c0 and 3e8077a; the next four; 0f4de0d and 8c1942b;",
        "`bench/data/h100-kernels-second-engine-<commit>.jsonl`), ms per float32 product at 4096:",
        "",
        "| engine | " + " | ".join(builds) + " |",
        "| --- |" + " --- |" * len(builds),
    ] + ["| %s | %s |" % (what, " | ".join(f"{ms(b, t):.2f}" for b in builds)) for t, what in cases] + [
        "",
        "Every build up to 0f4de0d runs the second engine's products 1.7–2.3× slower; from 8c1942b",
        "on it runs them at the first engine's time, as in all five runs of later builds in",
        "`h100-kernels-sixteen-*.jsonl` (3.66–3.74 ms in all four rows). 8c1942b stopped writing",
        "the params when the params buffer already holds them: before it, every submission",
        "wrote them with `queue.write_buffer`; since, a loop of the same products writes them once.",
        "So on this driver, a queue write to the second engine's uniform buffer before each",
        "submission made its large products slow, and the first engine's not; why the first is",
        "spared is not understood (both wrote their params each time). A workload whose params",
        "change from one submission to the next still writes them each time, so a second engine",
        "sharing a device may still meet it there; not measured.",
        "",
    ]
    return out

def dawn_shapes():
    """Every tile shape fixed on Dawn, for each input format (a scratch script, a later session)."""
    rows = lines("h100-dawn-matmul-shapes.jsonl")
    tf = lambda tiles, dtype, n: next(r["tflop_s"] for r in rows if r["tiles"] == tiles and r["dtype"] == dtype and r["n"] == n)
    shapes = list(dict.fromkeys(r["tiles"] for r in rows))
    out = [
        "Whether float16 on Dawn would gain from a tuning of its own: every shape fixed on an engine",
        "of its own (`Engine.create({ matmulTiles })`), float32, float16 (packed: no `shader-f16`",
        "there) and bfloat16 inputs, on Dawn in Node on the H100, one run",
        "(`bench/data/h100-dawn-matmul-shapes.jsonl`), TFLOP/s as float32 / float16 / bfloat16:",
        "",
        "| shape | 1024 | 2048 | 4096 |",
        "| --- | --- | --- | --- |",
    ]
    for t in shapes:
        out.append(f"| {t} | " + " | ".join(" / ".join(f"{tf(t, d, n):.1f}" for d in ("float32", "float16", "bfloat16"))
                                           for n in (1024, 2048, 4096)) + " |")
    best = {n: max((tf(t, "float16", n), t) for t in shapes) for n in (1024, 2048, 4096)}
    # What the float32 tuning gave float16 on Dawn in the conversion runs above, both builds and rows.
    tuned = {n: [r["tflop_s"] for b in ("base", "new") for i in (1, 2) for r in lines(f"h100-dawn-matmul-h2f-{b}-{i}.jsonl")
                 if r.get("case") in ("resident_f16", "resident_f16_packed") and r["n"] == n
                 and r.get("accumulate", "float32") == "float32"] for n in (1024, 2048, 4096)}
    gaps = [1 - tf(t, "float16", n) / tf(t, "float32", n) for t in shapes for n in (1024, 2048, 4096)]
    out += [
        "",
        "The fastest fixed shape for float16 runs %s at 1024 (%s), %s at 2048 (%s) and %s at 4096"
        % (f"{best[1024][0]:.1f}", best[1024][1], f"{best[2048][0]:.1f}", best[2048][1], f"{best[4096][0]:.1f}"),
        "(%s), no faster than what the float32 tuning gives float16 in the runs above (%s, %s and"
        % (best[4096][1], spread(tuned[1024]), spread(tuned[2048])),
        "%s; this one run's float32 figures sit a few percent under those runs' too): on Dawn a"
        % spread(tuned[4096]),
        "tuning per input format would gain little if anything. Packed float16 trails float32 in",
        "nearly every shape and size (from %.0f%% ahead to %.0f%% behind). Where the gap comes from on Dawn stays"
        % (-min(gaps) * 100, max(gaps) * 100),
        "open; the subgroup shapes lose most with it (`16x4x32-sg` 17.7 against 29.1 at 4096), as natively.",
        "",
    ]
    return out
