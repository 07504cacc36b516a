"""PyTorch reference figures for tmath-bench, measured on the same GPU in the same call:
device-to-device copy bandwidth (bytes read + written), host-to-device and device-to-host
bandwidth (pinned and pageable), and FP32 matmul with TF32 off. One JSON object per line, each
with "suite": "torch_reference". Usage: python3 bench/torch_reference.py [kernels]
With "kernels": only what `tmath-bench kernels` compares with (matmul, a 256 MiB copy, add,
mul and casts on 64M elements, and the non-tensor FMA peak in CUDA, float32 against packed
float16, through cupy where it is installed)."""
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


FMA_PEAK_CUDA = r"""
#include <cuda_fp16.h>
// 16 independent chains of fused multiply-adds per thread, as tmath-bench's WGSL peak kernel.
extern "C" __global__ void fma_f32(float* out, int iters) {
  float m = 0.999f, c = (threadIdx.x & 7) * 0.0001f, a[16];
  for (int i = 0; i < 16; i++) a[i] = i * 0.01f;
  for (int it = 0; it < iters; it++)
    #pragma unroll
    for (int r = 0; r < 64; r++) a[r % 16] = fmaf(a[r % 16], m, c);
  float t = 0; for (int i = 0; i < 16; i++) t += a[i];
  out[blockIdx.x * blockDim.x + threadIdx.x] = t;
}
// The same with __half2: two float16 multiply-adds per instruction (HFMA2).
extern "C" __global__ void fma_f16x2(float* out, int iters) {
  __half2 m = __float2half2_rn(0.999f), c = __float2half2_rn((threadIdx.x & 7) * 0.0001f), a[16];
  for (int i = 0; i < 16; i++) a[i] = __float2half2_rn(i * 0.01f);
  for (int it = 0; it < iters; it++)
    #pragma unroll
    for (int r = 0; r < 64; r++) a[r % 16] = __hfma2(a[r % 16], m, c);
  float t = 0; for (int i = 0; i < 16; i++) t += __low2float(a[i]) + __high2float(a[i]);
  out[blockIdx.x * blockDim.x + threadIdx.x] = t;
}
"""


def fma_peak():
    """The GPU's non-tensor FMA rate in CUDA: float32, and float16 packed in pairs (the most a
    WGSL kernel could get from float16 arithmetic, which has no tensor cores)."""
    try:
        import cupy
    except ImportError:
        emit(case="fma_peak", skipped="cupy is not installed")
        return
    module = cupy.RawModule(code=FMA_PEAK_CUDA)
    threads, iters = 1 << 20, 4096
    out = cupy.empty(threads, dtype=cupy.float32)
    warm_up()
    rates = {}
    for name, lanes in [("fma_f32", 1), ("fma_f16x2", 2)]:
        kernel = module.get_function(name)
        run = lambda: kernel((threads // 256,), (256,), (out, cupy.int32(iters)))
        s = timed(run, 5)
        rates[name] = threads * iters * 64 * lanes * 2 / s / 1e12
    emit(case="fma_peak", dtype="float32", tflop_s=rates["fma_f32"], of_f32=1.0)
    emit(case="fma_peak", dtype="float16", tflop_s=rates["fma_f16x2"],
         of_f32=rates["fma_f16x2"] / rates["fma_f32"])


def main():
    emit(case="device", name=torch.cuda.get_device_name(0), torch=torch.__version__)
    if "kernels" in sys.argv[1:]:
        fma_peak()
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
