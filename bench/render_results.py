"""Render bench/RESULTS.md from the raw measurements in bench/data/ (JSON lines written by
`tmath-bench all --json` and `bench/torch_reference.py`) and the benchmark page's text report
(`node bench/page.mjs`, the browser half of `npm run bench`).
Usage: python3 bench/render_results.py"""
import json
from pathlib import Path

DATA = Path(__file__).parent / "data"


def lines(name):
    return [json.loads(l) for l in (DATA / name).read_text().splitlines() if l.startswith("{")]


def size(b):
    return f"{b >> 30} GiB" if b >= 1 << 30 else f"{b >> 20} MiB" if b >= 1 << 20 else f"{b >> 10} KiB"


t = lines("h100-tmath.jsonl")
r = lines("h100-torch.jsonl")
web = (DATA / "chromium-swiftshader-www.txt").read_text().strip()
node_h100 = (DATA / "h100-dawn-node.txt").read_text().strip()
ref = {x["bytes"]: x for x in r if x.get("case") == "transfer"}
mm_ref = {x["n"]: x for x in r if x.get("case") == "matmul_f32_no_tf32"}
adapter = next(x for x in t if x["suite"] == "adapter")
device = next(x for x in r if x.get("case") == "device")

out = [
    "# Benchmark results",
    "",
    "Every figure was measured in one call on the device machine, tmath and PyTorch side by side",
    "on the same GPU, each timed section after about a second of warm-up work; ratios compare",
    "numbers from that run. The raw lines are in `bench/data/`; this file is rendered from them by",
    "`python3 bench/render_results.py`.",
    "",
    f"## {adapter['name']} (wgpu 30 on Vulkan, {adapter['driver']}), 2026-11-24",
    "",
    "Commands, on the device machine (the binary built here with `cargo build --release --features bench --bin",
    "tmath-bench` and carried there with Debian's Vulkan loader, as the device README describes):",
    "",
    "```sh",
    f"python3 bench/torch_reference.py > bench/data/h100-torch.jsonl   # PyTorch {device['torch']}",
    "tmath-bench all --json > bench/data/h100-tmath.jsonl",
    "tmath-bench e2e > bench/data/h100-e2e.txt",
    "```",
    "",
    "### The seed's table (tmath-bench e2e)",
    "",
    "*Before* is the old engine's behaviour rebuilt with the same kernels: no pool (every buffer",
    "created fresh and destroyed), and every op's inputs and output make a host round trip.",
    "*After* is tmath: pooled buffers, data stays on the GPU, one submission per flush.",
    "",
]
e2e = (DATA / "h100-e2e.txt").read_text().splitlines()
out += [l for l in e2e if l.startswith("|")]
out += ["", "```", next(l for l in e2e if l.startswith("kernel")), "```", ""]
out += [
    "Kernel time is the per-product time of 20 products in one submission (a resident-chain",
    "measurement; timestamp queries are not wired in yet). Since ops share one compute pass and",
    "one params write per submission, that batch runs faster (0.131 ms per product here, 0.203 ms",
    "in the run before the change), which lowers the efficiency ratio although a resident product",
    "costs the same 0.28 ms: the ratio is kernel time over end-to-end time, and the kernel",
    "measurement is what improved. The submit-and-wait per product is most of the rest.",
    "Host-in/host-out efficiency stays below 10 % before and after: on this driver a readback",
    "through a mapped buffer runs at 1.2–6 GB/s and dominates; what the pool removes there (4",
    "buffer creations per op) is small next to it. The 10-op chain is where the design pays:",
    "9.5× faster, 0.4 copies and crossings per op (the three uploads and one readback, shared by",
    "ten ops) instead of 2.5, no buffers created.",
    "",
    "### Matmul (tmath-bench matmul)",
    "",
    "| n | f32 ms | f32 TFLOP/s | PyTorch f32 (TF32 off) ms | TFLOP/s | tmath / PyTorch time | f16-in/f32-acc TFLOP/s | host-in/host-out ms |",
    "|---|---|---|---|---|---|---|---|",
]
mm = {}
for x in t:
    if x.get("suite") == "matmul":
        mm.setdefault(x["n"], {})[x["dtype"].split("-")[0]] = x
for n, v in sorted(mm.items()):
    f, h, p = v["float32"], v["float16"], mm_ref[n]
    out.append(
        f"| {n} | {f['ms']:.3f} | {f['gflop_s'] / 1e3:.1f} | {p['ms']:.3f} | {p['tflop_s']:.1f} | "
        f"{f['ms'] / p['ms']:.2f}× | {h['gflop_s'] / 1e3:.1f} | {f['host_in_out_ms']:.2f} |"
    )
out += [
    "",
    f"At 4096 tmath reaches {mm[4096]['float32']['gflop_s'] / 1e3 / mm_ref[4096]['tflop_s']:.0%} of PyTorch's FP32 throughput (aim: 75 %) and at 1024",
    f"takes {mm[1024]['float32']['ms'] / mm_ref[1024]['ms']:.1f}× its time (aim: 1.2×). These figures are from the kernels before",
    "issue 15 (two fixed variants: 64×64 tiles with 4×4 register blocks, 128×128 with 8×8); the",
    "generated, tuned kernels are measured in \"Kernels on the H100\" below.",
    "",
    "### Uploads (host → GPU)",
    "",
    "| size | tmath route | tmath GB/s | `write_buffer` GB/s | tmath / raw | PyTorch pinned GB/s | tmath / PyTorch |",
    "|---|---|---|---|---|---|---|",
]
for x in t:
    if x.get("case") == "upload":
        p = ref[x["bytes"]]["h2d_pinned_gb_s"]
        out.append(f"| {size(x['bytes'])} | {x['route']} | {x['tmath_gb_s']:.2f} | {x['raw_write_buffer_gb_s']:.2f} | {x['ratio']:.2f} | {p:.1f} | {x['tmath_gb_s'] / p:.2f} |")
out += [
    "",
    "From 64 MiB the staged-write route (a pooled upload buffer kept mapped, then one GPU copy)",
    "moves 2.1–2.9× what `queue.write_buffer` does; below, tmath is the queue write. The aim, half",
    "of PyTorch's pinned upload (about 27 GB/s), is **not reached**: tmath reaches 8–10 GB/s",
    "from 16 MiB up (16–19 % of PyTorch), limited by the single-threaded copy into mapped memory.",
    "",
    "### Readback (GPU → host)",
    "",
    "| size | tmath GB/s | raw, fresh staging | raw, reused staging | tmath / fresh | tmath / reused | PyTorch pinned GB/s |",
    "|---|---|---|---|---|---|---|",
]
for x in t:
    if x.get("case") == "readback":
        p = ref[x["bytes"]]["d2h_pinned_gb_s"]
        out.append(f"| {size(x['bytes'])} | {x['tmath_gb_s']:.2f} | {x['raw_fresh_staging_gb_s']:.2f} | {x['raw_reused_staging_gb_s']:.2f} | {x['ratio_vs_fresh']:.2f} | {x['ratio_vs_reused']:.2f} | {p:.1f} |")
out += [
    "",
    "Mapping is slow on this driver for everyone; tmath's pooled staging beats a fresh staging",
    "buffer from 256 MiB (1.5–1.6×) and is within noise of a reused raw one elsewhere (0.67 at",
    "16 MiB in this run, 0.6–1.0 across runs).",
    "",
    "### GPU to GPU (bytes read + written)",
    "",
    "| size | tmath GB/s | copy command | compute copy | raw `copy_buffer_to_buffer` | tmath / raw | PyTorch GB/s | tmath / PyTorch |",
    "|---|---|---|---|---|---|---|---|",
]
for x in t:
    if x.get("case") == "gpu_to_gpu":
        p = ref[x["bytes"]]["d2d_copy_gb_s"]
        out.append(f"| {size(x['bytes'])} | {x['tmath_gb_s']:.0f} | {x['tmath_command_gb_s']:.0f} | {x['tmath_compute_gb_s']:.0f} | {x['raw_copy_buffer_gb_s']:.0f} | {x['ratio']:.2f} | {p:.0f} | {x['tmath_gb_s'] / p:.2f} |")
big = next(x for x in t if x.get("case") == "gpu_to_gpu" and x["bytes"] == 1 << 30)
out += [
    "",
    f"tmath takes the compute copy from 8 MiB and the copy command below. At 1 GiB it moves",
    f"{big['tmath_gb_s']:.0f} GB/s: {big['ratio']:.1f}× `copy_buffer_to_buffer` and {big['tmath_gb_s'] / ref[1 << 30]['d2d_copy_gb_s']:.0%} of PyTorch's device copy (aim: 90 %).",
    "",
    "### Casts (tmath-bench precision)",
    "",
    "Bytes read + written per second; in brackets the ratio to a same-size GPU copy of the source.",
    "",
    "| pair | 1M elements | 16M | 64M | 64M / PyTorch copy |",
    "|---|---|---|---|---|",
]
casts = {}
for x in t:
    if x.get("case") == "cast":
        casts.setdefault((x["from"], x["to"]), {})[x["elements"]] = x
top = ref[1 << 30]["d2d_copy_gb_s"]
for (f, to), v in casts.items():
    cells = [f"{v[n]['cast_gb_s']:.0f} ({v[n]['cast_vs_copy']:.2f})" for n in sorted(v)]
    out.append(f"| {f} → {to} | " + " | ".join(cells) + f" | {v[max(v)]['cast_gb_s'] / top:.2f} |")
idn = [x for x in t if x.get("case") == "identity"]
out += [
    "",
    "Casts run at 49–85 % of a same-size copy and 43–64 % of PyTorch's copy bandwidth at 64M",
    "elements (aim: 70 %): one 32-bit word per invocation; a vec4 variant is future work. The",
    f"identity path of `prepare_tensor` costs {min(x['prepare_same_dtype_ns'] for x in idn):.0f}–{max(x['prepare_same_dtype_ns'] for x in idn):.0f} ns and no GPU work.",
    "",
    "Uploading float32 data into a float16 tensor (the reason for `ConversionSite::Auto`):",
    "",
    "| elements | convert on the host, upload | upload, cast on the GPU |",
    "|---|---|---|",
]
out += [f"| {x['elements']} | {x['host_ms']:.2f} ms | {x['gpu_ms']:.2f} ms |" for x in t if x.get("case") == "upload_f32_to_f16"]
out += ["", "### Pool (tmath-bench pool)", "", "| case | result |", "|---|---|"]
for x in t:
    if x.get("suite") != "pool":
        continue
    if x["case"] == "hit_vs_create":
        out.append(f"| get+put vs create+destroy, {size(x['bytes'])} | {x['pool_hit_ns']:.0f} ns vs {x['create_destroy_ns']:.0f} ns ({x['speedup']:.1f}×); with a first use {x['speedup_with_first_use']:.2f}× |")
    else:
        out.append(f"| {x['case']} | hit rate {x['hit_rate']:.3f}, {x['buffers_created']} buffers for 500 requests, {x['evictions']} evictions |")
out += [
    "",
    "## The benchmark page in Chromium's WebGPU (SwiftShader on this machine), with TF.js and ORT Web",
    "",
    "`node bench/page.mjs > bench/data/chromium-swiftshader-www.txt` (the browser half of",
    "`npm run bench`): www/index.html?auto=1 in headless Chromium, TensorFlow.js 4.22 (WebGPU",
    "backend) and ONNX Runtime Web 1.30 (WebGPU EP, on tmath's device) doing the same work on the",
    "same page. SwiftShader is a CPU implementation of WebGPU: the counts carry over to a GPU, the",
    "times say how the runtimes compare on it, not what a GPU does.",
    "",
    "```",
    web,
    "```",
    "",
    "What it shows, on this CPU adapter: tmath's matmul has about 3× the throughput of TF.js and",
    "ORT Web from n = 256 (resident and host-in/host-out alike), and its counts match the native",
    "ones (0 buffers per op, 0 copies for resident ops). Two things it shows against tmath, left",
    "for later: a pool get+put costs about 20 µs on the JS thread against about 6 µs for",
    "createBuffer+destroy, which Chromium hands to its GPU process without waiting (the pool saves",
    "that process's allocations, which the page does not see; the JS↔wasm crossings of the",
    "wrapper dominate: one `stats()` call is about 30 µs); and an 8 MiB upload-×2-readback round",
    "trip takes about 1.6× TF.js's time, the difference being tmath's rank-general elementwise",
    "kernel on SwiftShader (upload and readback run at the raw WebGPU calls' speed).",
    "",
    "## The page's suites in Node on Dawn, on the H100 (no browser)",
    "",
    "`node bench/node.mjs > bench/data/h100-dawn-node.txt` on the device machine (Node and Dawn's",
    "`dawn.node` carried, compressed with xz; `npm run bench` takes this path where there is no",
    "Chromium): the suites of `www/suites.mjs`, the same code the page runs, through the package's",
    "public API (`Engine.create({ gpu: create([]) })`, nothing else set up). The raw columns are the",
    "WebGPU calls doing the same work on the same device; TF.js and ORT Web need a browser here.",
    "Full JSON in `bench/data/h100-dawn-node-results.json`.",
    "",
    "```",
    node_h100,
    "```",
    "",
    "What it shows: Dawn in Node moves host data at about 1 GB/s whether tmath or the raw",
    "`writeBuffer`/`mapAsync` calls do it (from 1 MiB up, tmath's uploads run at 0.89–1.04× the",
    "raw calls' rate and its readbacks at 0.68–0.97×; bounded, pipelined readbacks are issue 14's),",
    "so host transfers bound every host-in/host-out figure there; resident work reaches 2.4 TFLOP/s at",
    "n = 1024 and the 10-op chain runs 15.9× faster than the old way.",
    "",
]

# The hot path before and after stream-ordered reuse (bench/hotpath.mjs, bench/dawn-hotpath.mjs).
def hot(pattern):
    runs = sorted(DATA.glob(pattern))
    return [json.loads(r.read_text()) for r in runs]


def rng(values, fmt):
    lo, hi = min(values), max(values)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}–{fmt.format(hi)}"


out += [
    "## The hot path, before and after stream-ordered reuse, next to raw WebGPU",
    "",
    "The same workload (`bench/hotpath-workload.mjs`) in three places: Chromium's WebGPU",
    "(`node bench/hotpath.mjs`), Dawn in Node on this machine's SwiftShader",
    "(`VK_DRIVER_FILES=/usr/lib/chromium/vk_swiftshader_icd.json node bench/dawn-hotpath.mjs`), and",
    "Dawn in Node on an NVIDIA H100 (the same script on the device machine, Node and `dawn.node`",
    "carried, two runs each). \"before\" is e1220f5, the main before this change, built with",
    "`npm run build` in a worktree and passed as `--root`. The raw floor is the same add kernel",
    "with everything preallocated: two buffers, two bind groups, one encoder and one compute pass,",
    "`setBindGroup` + `dispatchWorkgroups` per op. Times are JS-thread time; chain figures are",
    "totals over 10,000 ops divided (Chromium rounds `performance.now()` to 100 µs). Raw JSON in",
    "`bench/data/*hotpath*.json`.",
    "",
    "| work | where | before | after | raw |",
    "| --- | --- | --- | --- | --- |",
]
envs = [
    ("Chromium, SwiftShader", "chromium-swiftshader-hotpath-{}.json"),
    ("Dawn, SwiftShader", "dawn-swiftshader-hotpath-{}.json"),
    ("Dawn, H100", "dawn-hotpath-{}-h100-*.json"),
]
for n in ("4096", "262144"):
    for where, pat in envs:
        b, a = hot(pat.format("before")), hot(pat.format("after"))
        if not b or not a:
            continue
        c = lambda runs, k: [r[f"chain{n}"][k] for r in runs]
        ratio = [x / y for x, y in zip(c(a, "tmathUsPerOp"), c(a, "rawUsPerOp"))]
        bratio = [x / y for x, y in zip(c(b, "tmathUsPerOp"), c(b, "rawUsPerOp"))]
        out.append(
            f"| 1,000 chained `add(x, 1)` on {int(n):,} floats, previous disposed: µs per op (× raw) | {where} | "
            f"{rng(c(b, 'tmathUsPerOp'), '{:.1f}')} ({rng(bratio, '{:.1f}')}×) | {rng(c(a, 'tmathUsPerOp'), '{:.1f}')} ({rng(ratio, '{:.1f}')}×) | {rng(c(a, 'rawUsPerOp'), '{:.2f}')} |"
        )
a = hot("chromium-swiftshader-hotpath-after.json")[0]["chain4096"]
out.append(f"| same chain, per op: buffers / bind groups / params writes; bytes in use grown | all | 0.90 / (not counted) / 1; 16 MB (4,096) and 1 GB (262,144) | {a['buffersCreatedPerOp']:.3f} / {a['bindGroupsPerOp']:.3f} / {a['paramWritesPerOp']:.3f}; 0 | 0 / 0 / 0 |")
for where, pat in envs:
    b, a = hot(pat.format("before")), hot(pat.format("after"))
    if not b or not a:
        continue
    cb, ca = b[0]["churn500"], a[0]["churn500"]
    out.append(f"| 500 tensors (4 KiB–1 MiB) uploaded, added, disposed in one task: buffers created, bytes in use at the end (live {ca['liveBytes']:,}) | {where} | {cb['buffersCreated']}, {cb['bytesInUseAtEnd']:,} | {ca['buffersCreated']}, {ca['bytesInUseAtEnd']:,} ({ca['submitsInTask']} submits) | — |")
def before_after_rows(label, section, ours, raw, fmt):
    """One row per environment: tmath before, tmath after, and the raw calls (after's run)."""
    for where, pat in envs:
        b, a = hot(pat.format("before")), hot(pat.format("after"))
        if not b or not a:
            continue
        v = lambda runs, k: [r[section][k] for r in runs]
        out.append(f"| {label} | {where} | {rng(v(b, ours), fmt)} | {rng(v(a, ours), fmt)} | {rng(v(a, raw), fmt)} |")


before_after_rows("host-in/host-out 64×64 matmul, ms (raw: write ×2, dispatch, copy, map)",
                  "matmul64HostInOut", "tmathMs", "rawMs", "{:.3f}")
before_after_rows("pool get+put of 1 MiB, µs (raw: createBuffer + destroy)",
                  "poolGetPut", "tmathUs", "createDestroyUs", "{:.2f}")
out += [
    "",
    "What holds everywhere: a chain in one task creates no buffer and no bind group, writes its",
    "params once and submits once, and its memory stays flat (before: 0.9 buffers per op, and",
    "memory growing with every op until the end of the task); the churn needs 34 buffers instead",
    "of 1,000 and holds 5.5 MB instead of 543 MB at the end of the loop. The 8 MiB write-staging",
    "arena bounds what stays in use, at the cost of one submission per 8 MiB of staged uploads",
    "(23 here). On the H100 through Dawn, JS-thread time per op fell from 15–19× the raw floor to",
    "2.1–2.6×; pool get+put costs a tenth of `createBuffer` + `destroy` there.",
    "",
    "What does not hold yet: the chain is still above the 2× target on Dawn, and far above the",
    "floor in Chromium, whose WebGPU records calls so cheaply (0.07 µs) that any tensor object per",
    "op dominates. Host-in/host-out 64×64 matmul is unchanged within its noise (0.2–0.35 ms on",
    "the H100 both before and after, 2–3× the raw calls, which skip the pool, the ledger and the",
    "typed-array result); an earlier run that looked slower came from an end-of-task timer set",
    "after every submission instead of once per task, since fixed.",
    "",
]

# The lean hot path: params slots by value at fixed offsets, no failed brand checks (issue 12).
lean_envs = [
    ("Chromium, SwiftShader", "chromium-swiftshader-hotpath-lean-{}-*.json"),
    ("Dawn, SwiftShader", "dawn-swiftshader-hotpath-lean-{}-*.json"),
    ("Dawn, H100", "dawn-hotpath-lean-{}-h100-*.json"),
]
out += [
    "### The lean hot path",
    "",
    "The same workload after the second pass on the hot path (params slots shared by value and",
    "bound at fixed offsets, no failed brand check or `performance` lookup per upload, no",
    "WeakMap entry per tensor), side by side with 9acd62b (the main before it, built in a",
    "worktree and passed as `--root`), both in the same run: three runs each on the H100, two",
    "here. The workload now also times each chain per task with its submission, against raw",
    "work of the same shape (one encoder and one pass of 1,000 dispatches per task, submitted):",
    "Dawn's `beginComputePass` costs about 1.2 ms per pass on SwiftShader, which the",
    "10,000-dispatch raw floor above amortises away. Raw JSON in `bench/data/*hotpath-lean*.json`.",
    "",
    "| work | where | before (× raw) | after (× raw) | after per task, submit included (× raw task) |",
    "| --- | --- | --- | --- | --- |",
]
for n in ("4096", "262144"):
    for where, pat in lean_envs:
        b, a = hot(pat.format("before")), hot(pat.format("after"))
        c = lambda runs, k: [r[f"chain{n}"][k] for r in runs]
        ratio = lambda runs, k, r: [x / y for x, y in zip(c(runs, k), c(runs, r))]
        out.append(
            f"| 1,000 chained `add(x, 1)` on {int(n):,} floats: µs per op | {where} | "
            f"{rng(c(b, 'tmathUsPerOp'), '{:.1f}')} ({rng(ratio(b, 'tmathUsPerOp', 'rawUsPerOp'), '{:.1f}')}×) | "
            f"{rng(c(a, 'tmathUsPerOp'), '{:.1f}')} ({rng(ratio(a, 'tmathUsPerOp', 'rawUsPerOp'), '{:.1f}')}×) | "
            f"{rng(c(a, 'tmathTaskUsPerOp'), '{:.1f}')} ({rng(ratio(a, 'tmathTaskUsPerOp', 'rawTaskUsPerOp'), '{:.1f}')}×) |"
        )
for label, section, ours, raw, fmt in [
    ("host-in/host-out 64×64 matmul, ms", "matmul64HostInOut", "tmathMs", "rawMs", "{:.3f}"),
    ("pool get+put of 1 MiB, µs (raw: createBuffer + destroy)", "poolGetPut", "tmathUs", "createDestroyUs", "{:.2f}"),
]:
    for where, pat in lean_envs:
        b, a = hot(pat.format("before")), hot(pat.format("after"))
        v = lambda runs, k: [r[section][k] for r in runs]
        q = lambda runs: [x / y for x, y in zip(v(runs, ours), v(runs, raw))]
        out.append(f"| {label} | {where} | {rng(v(b, ours), fmt)} ({rng(q(b), '{:.2f}')}×) | {rng(v(a, ours), fmt)} ({rng(q(a), '{:.2f}')}×) | — |")
out += [
    "",
    "On the H100 the chain's JS-thread time per op fell to 1.5–2.3× the raw floor at 4,096 floats",
    "and 1.7–2.9× at 262,144 (before: 2.5–3.0× and 2.3–2.7× in the same call); the raw floor",
    "itself moves between 2.9 and 5.6 µs from run to run there, so single ratios are noisy. Per",
    "task with the submission included, 2.0–3.4×. Host-in/host-out 64×64 matmul fell from",
    "3.5–4.4× raw to 2.2–2.6× (0.18–0.29 ms): two uploads of 16 KiB took 141–164 µs and now 42,",
    "because each `toDevice` of a typed array ran two GPUBuffer brand checks that threw. Still",
    "open: the 2× chain target holds only in some runs, the 1.3× host-in/host-out target is not",
    "met (a readback of a resident 16 KiB tensor takes about 104 µs against 54 for the raw",
    "copy + map + read, from `node bench/hostio.mjs`'s phase timing on the H100), and in",
    "Chromium, whose WebGPU records a call in 0.05–0.25 µs, tmath's per-op cost (2–4.6 µs",
    "through wasm and wgpu) stays 17–33× that floor; pool get+put there is 1.7–2.2 µs against",
    "0.8 for `createBuffer` + `destroy`.",
    "",
]

# Bounded transfers (tmath-bench bounded; bench/bounded.mjs on Dawn), issue 14.
bounded = [r for r in lines("h100-bounded.jsonl") if r["suite"] == "bounded"]
torch_t = {r["bytes"]: r for r in lines("h100-torch-bounded.jsonl") if r.get("case") == "transfer"}
dawn_b = json.loads((DATA / "h100-dawn-bounded.json").read_text())
out += [
    "## Bounded transfers on the H100 (staging ring, streamed uploads, safetensors)",
    "",
    "```sh",
    "tmath-bench bounded --json > bench/data/h100-bounded.jsonl            # native, wgpu on Vulkan",
    "node bench/bounded.mjs --file-mib 1024                                # Dawn in Node -> h100-dawn-bounded.json",
    "python3 bench/torch_reference.py > bench/data/h100-torch-bounded.jsonl",
    "```",
    "",
    "Native, GB/s. A ring holds 4 pooled staging buffers of the chunk size; \"single buffer\" is the",
    "path before the ring (one staging buffer as large as the tensor). `read_into` fills a",
    "preallocated slice; `to_vec` a new `Vec` (its page faults bound it). PyTorch's pageable",
    "figures copy into an already-allocated tensor; its pinned ones need page-locked memory.",
    "",
    "| size | staging | staging bytes | upload | `write_buffer` | read_into | to_vec | raw reused staging | PyTorch up pageable / pinned | down pageable / pinned |",
    "|---|---|---|---|---|---|---|---|---|---|",
]
for r in bounded:
    if r.get("case") == "safetensors":
        continue
    t = torch_t.get(r["bytes"], {})
    out.append(
        f"| {size(r['bytes'])} | {r['staging']} | {size(r['readback_staging_bytes'])} | {r['upload_gb_s']:.1f} ({r['upload_route']}) "
        f"| {r['raw_write_buffer_gb_s']:.1f} | {r['read_into_gb_s']:.1f} | {r['read_new_vec_gb_s']:.1f} | {r['raw_reused_staging_gb_s']:.1f} "
        f"| {t.get('h2d_pageable_gb_s', float('nan')):.1f} / {t.get('h2d_pinned_gb_s', float('nan')):.1f} "
        f"| {t.get('d2h_pageable_gb_s', float('nan')):.1f} / {t.get('d2h_pinned_gb_s', float('nan')):.1f} |"
    )
st = next(r for r in bounded if r.get("case") == "safetensors")
s = dawn_b["safetensors"]
sp = json.loads((DATA / "h100-dawn-bounded-pacer.json").read_text())["safetensors"]
out += [
    "",
    f"The default chunk is 16 MiB (64 MiB of staging): from 64 MiB up it uploads at 22–25 GB/s and",
    "reads back into a caller's slice at 24–25 GB/s, where the single staging buffer moved 11–15 and",
    "20–22, and the chunked path stays bounded at any size. Reading into a new `Vec` reaches only",
    "6–7 GB/s (was 1.3 at 1 GiB): the kernel's page faults on fresh memory bound it, not the GPU;",
    "`Tensor::read_into` is the fast path and meets the 8 GB/s target at every size.",
    "",
    f"Safetensors, native: {st['tensors']} tensors, {size(st['bytes'])} from memory through",
    f"`Engine::load_safetensors`: {st['load_gb_s']:.2f} GB/s against {st['raw_write_buffer_gb_s']:.2f} GB/s for raw",
    f"`write_buffer` calls moving the same bytes ({st['ratio']:.2f}× their speed).",
    "",
    "Dawn in Node on the same GPU (bench/bounded.mjs), readback GB/s:",
    "",
    "| MiB | ring, `toHost()` | ring, `toHost(out)` | single buffer, `toHost()` | raw WebGPU | ring / single |",
    "|---|---|---|---|---|---|",
]
for r in dawn_b["readback"]:
    out.append(f"| {r['mib']} | {r['ring_gb_s']:.2f} | {r['ring_into_gb_s']:.2f} | {r['single_gb_s']:.2f} | {r['raw_gb_s']:.2f} | {r['ring_over_single']:.2f} |")
out += [
    "",
    "Every path that returns a new ArrayBuffer (tmath's and the raw calls' alike) is bound by its",
    "allocation (about 1.4 GB/s from 64 MiB); `toHost(out)` moves 5.6–7.4 GB/s. The ring is within",
    "noise of the single buffer at every size (0.94–1.11), with bounded staging.",
    "",
    f"Safetensors on Dawn: {s['tensors']} tensors, {s['bytes'] / 2**20:.0f} MiB streamed from an async generator of",
    f"1 MiB pieces, every byte read back and checked: tmath {s['load_s']:.2f} s holding at most",
    f"{s['host_memory_peak_mib']:.1f} MiB of host memory above the start (rss, which includes Dawn's staging);",
    f"raw `writeBuffer` calls {s['raw_write_buffer_s']:.2f} s but {s['raw_host_memory_peak_mib']:.0f} MiB (Dawn keeps a copy of every",
    f"write until the GPU has done it); raw calls paced to the same bound {s['raw_paced_s']:.2f} s",
    f"({s['raw_paced_host_memory_peak_mib']:.1f} MiB). tmath takes {s['time_ratio']:.2f}× the unbounded raw calls' time and",
    f"{s['time_ratio_vs_paced']:.2f}× the bounded ones'.",
    "",
    "Again after the uploads' pacing became 8 MiB steps waiting 4 steps back (at most about",
    "40 MiB unfinished instead of 48), two later runs on the H100 (bench/data/h100-dawn-bounded-pacer.json",
    f"is the second): tmath {sp['load_s']:.2f} s with {sp['host_memory_peak_mib']:.1f} MiB, raw `writeBuffer` {sp['raw_write_buffer_s']:.2f} s with {sp['raw_host_memory_peak_mib']:.0f} MiB,",
    f"{sp['time_ratio']:.2f}× (1.14× in the first run, 1.67 s against 1.46 s). tmath's own time did not change",
    "(1.58–1.67 s in every run); the raw calls' moved between 1.03 and 1.50 s across sessions, so",
    "the ratio sits at 1.1–1.5× and the 1.1× target is met only in some runs.",
    "",
    "On SwiftShader (this machine, no GPU) the same load took 1.3–2.0× the raw calls' time with",
    "about 10–50 MiB of host memory, in Dawn and in Chromium; there a fresh pooled buffer one size",
    "class above the tensor is cleared by Dawn before its first partial write, a memset on a CPU",
    "device.",
    "",
]

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
(Path(__file__).parent / "RESULTS.md").write_text("\n".join(out))
