"""PyTorch reference figures for tmath-bench, measured on the same GPU in the same call:
device-to-device copy bandwidth (bytes read + written), host-to-device and device-to-host
bandwidth (pinned and pageable), and FP32 matmul with TF32 off. One JSON object per line, each
with "suite": "torch_reference". Usage: python3 bench/torch_reference.py [kernels]
With "kernels": only what `tmath-bench kernels` compares with (matmul, a 256 MiB copy, add,
mul and casts on 64M elements)."""
import json
import sys
import time

import torch


def emit(**fields):
    print(json.dumps({"suite": "torch_reference", **fields}), flush=True)


def timed(fn, reps):
    fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return samples[len(samples) // 2]


def warm_up(seconds=1.0):
    a = torch.empty(64 << 20, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        b.copy_(a)
        torch.cuda.synchronize()


def kernels():
    """FP32 matmul (TF32 off), copy, elementwise and cast bandwidth: bytes read + written."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for n in [1024, 2048, 4096]:
        warm_up()
        a = torch.randn(n, n, device="cuda")
        b = torch.randn(n, n, device="cuda")
        s = timed(lambda: a @ b, 20)
        emit(case="matmul_f32_no_tf32", n=n, ms=s * 1e3, tflop_s=2 * n**3 / s / 1e12)
        ah, bh = a.half(), b.half()
        s = timed(lambda: ah @ bh, 20)
        emit(case="matmul_f16", n=n, ms=s * 1e3, tflop_s=2 * n**3 / s / 1e12)
    n = 1 << 26
    warm_up()
    x = torch.rand(n, device="cuda")
    y = torch.rand(n, device="cuda")
    out = torch.empty_like(x)
    for name, fn, moved in [
        ("copy", lambda: out.copy_(x), 8 * n),
        ("add", lambda: torch.add(x, y, out=out), 12 * n),
        ("mul", lambda: torch.mul(x, y, out=out), 12 * n),
        ("cast_f32_f16", lambda: x.to(torch.float16), 6 * n),
        ("cast_f32_bf16", lambda: x.to(torch.bfloat16), 6 * n),
    ]:
        s = timed(fn, 50)
        emit(case="bandwidth", op=name, elements=n, gb_s=moved / s / 1e9)


def main():
    emit(case="device", name=torch.cuda.get_device_name(0), torch=torch.__version__)
    if "kernels" in sys.argv[1:]:
        kernels()
        return
    for size in [4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20, 256 << 20, 1 << 30]:
        warm_up()
        reps = max(5, min(50, (256 << 20) // size))
        src = torch.empty(size, dtype=torch.uint8, device="cuda")
        dsts = [torch.empty_like(src) for _ in range(8)]

        def copies():
            for d in dsts:
                d.copy_(src)

        s = timed(copies, reps)
        pinned = torch.empty(size, dtype=torch.uint8, pin_memory=True)
        pageable = torch.empty(size, dtype=torch.uint8)
        up_pinned = timed(lambda: src.copy_(pinned, non_blocking=True), reps)
        up_pageable = timed(lambda: src.copy_(pageable), reps)
        down_pinned = timed(lambda: pinned.copy_(src, non_blocking=True), reps)
        down_pageable = timed(lambda: pageable.copy_(src), reps)
        emit(
            case="transfer",
            bytes=size,
            d2d_copy_gb_s=2 * size * 8 / s / 1e9,
            h2d_pinned_gb_s=size / up_pinned / 1e9,
            h2d_pageable_gb_s=size / up_pageable / 1e9,
            d2h_pinned_gb_s=size / down_pinned / 1e9,
            d2h_pageable_gb_s=size / down_pageable / 1e9,
        )
        del src, dsts, pinned, pageable
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for n in [256, 512, 1024, 2048, 4096]:
        warm_up()
        a = torch.randn(n, n, device="cuda")
        b = torch.randn(n, n, device="cuda")
        s = timed(lambda: a @ b, 20)
        emit(case="matmul_f32_no_tf32", n=n, ms=s * 1e3, tflop_s=2 * n**3 / s / 1e12)


if __name__ == "__main__":
    main()
