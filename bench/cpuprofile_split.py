"""Split a V8 CPU profile (node --cpu-prof) of bench/hostio-profile.mjs into microseconds per
iteration by kind of work: WebGPU calls made through wasm-bindgen imports (the native call's time
shows as its import's self time), wasm, wasm-bindgen's JS glue, Node's event loop (where Dawn in
Node polls), garbage collection; startup (adapter, device, module compilation) apart.

    python3 bench/cpuprofile_split.py PROFILE.cpuprofile ITERATIONS
"""
import collections
import json
import sys

STARTUP = {"requestDevice", "requestAdapter", "__wbg_init", "compileForInternalLoader", "__require",
           "compileSourceTextModule"}
EVENT_LOOP = {"processImmediate", "setImmediate", "runMicrotask", "runInAsyncScope", "pushAsyncContext",
              "popAsyncContext", "listOnTimeout", "processTimers"}


def split(profile):
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent = {c: n["id"] for n in profile["nodes"] for c in n.get("children", [])}
    self_us = collections.Counter()
    for sample, delta in zip(profile["samples"], profile["timeDeltas"]):
        self_us[sample] += delta
    kinds, calls = collections.Counter(), collections.Counter()
    for nid, us in self_us.items():
        frame = nodes[nid]["callFrame"]
        name, url = frame["functionName"], frame["url"]
        chain, at = [], nid
        while at is not None:
            chain.append(nodes[at]["callFrame"]["functionName"])
            at = parent.get(at)
        if STARTUP.intersection(chain):
            kinds["startup"] += us
        elif name in ("(idle)", "(garbage collector)", "(program)"):
            kinds[name] += us
        elif url.endswith("tmath.js") and (name.startswith("__wbg_") or name == ""):
            kinds["WebGPU calls through wasm-bindgen imports"] += us
            calls[name.split("_")[3] if name.startswith("__wbg_") else f"line {frame['lineNumber'] + 1}"] += us
        elif ".wasm" in url or name.startswith(("wasm-to-js", "js-to-wasm")):
            kinds["wasm"] += us
        elif url.endswith("tmath.js"):
            kinds["wasm-bindgen JS glue"] += us
        elif name in EVENT_LOOP:
            kinds["Node event loop"] += us
        elif url.endswith(("hostio-profile.mjs", "hostio-setup.mjs", "hotpath-workload.mjs")):
            kinds["the loop's own JS (raw: with its WebGPU calls)"] += us
        else:
            kinds["other JS"] += us
    return kinds, calls


if __name__ == "__main__":
    kinds, calls = split(json.load(open(sys.argv[1])))
    iterations = int(sys.argv[2])
    for kind, us in kinds.most_common():
        print(f"{us / iterations:8.1f} us/iteration  {kind}")
    if calls:
        print("WebGPU calls through imports:")
        for call, us in calls.most_common(16):
            print(f"{us / iterations:8.1f} us/iteration  {call}")
