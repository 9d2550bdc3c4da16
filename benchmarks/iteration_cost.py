"""Cost of one registration iteration (shooting + gradient) for LDDMM and the normalized cometric.

Each configuration runs in its own process (so that peak memory is its own); ratios are taken
between configurations measured in the same run. Usage:
    .venv/bin/python benchmarks/iteration_cost.py [--sizes 1000 5000 20000] [--steps 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
DENSE_LIMIT = 8000  # dense N x N autograd beyond this needs tens of GB


def measure(n: int, cometric: str, backend: str, steps: int, repeats: int, dtype: str, device: str) -> dict:
    import torch

    from benchmarks.meshes import mesh_of_size, smooth_deformation
    from shapeviewer.core.model import ModelSettings
    from shapeviewer.core.registration import Registration, RegistrationSettings

    v, f = mesh_of_size(n)
    settings = RegistrationSettings(
        model=ModelSettings(
            cometric=cometric,
            backend=backend,
            steps=steps,
            integrator="euler",
            dtype=dtype,
            device=device,
            control_points="all",  # every vertex carries a momentum: the cost at N control points
        ),
        levels=1,  # the full meshes
    )
    reg = Registration((v, f), (smooth_deformation(v), f), settings)
    z = (0.05 * torch.randn_like(reg.z)).requires_grad_()
    times = []
    for _ in range(repeats + 1):  # the first run compiles KeOps formulas
        start = time.perf_counter()
        loss, *_ = reg.evaluate(z, True)
        torch.autograd.grad(loss, z)
        if reg.model.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    info = reg.model.describe()
    return {
        "n": len(v),
        "cometric": cometric,
        "backend": info["backend"],
        "seconds": statistics.median(times[1:]),
        "peak_mb": torch.cuda.max_memory_allocated() / 2**20
        if reg.model.device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sinkhorn_max_residual": info.get("sinkhorn", {}).get("max_residual"),
    }


def run_child(args: list[str], timeout: float) -> dict | None:
    cmd = [sys.executable, __file__, "--child", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (peak MB is then GPU memory)")
    parser.add_argument("--backends", nargs="+", default=["torch", "keops"])
    parser.add_argument("--child", nargs=3, metavar=("N", "COMETRIC", "BACKEND"))
    a = parser.parse_args()
    if a.child:
        n, cometric, backend = a.child
        print(json.dumps(measure(int(n), cometric, backend, a.steps, a.repeats, a.dtype, a.device)))
        return
    print(f"one iteration = shooting ({a.steps} Euler steps) + gradient, {a.dtype}, {a.device}, median of {a.repeats}")
    print(f"{'N':>7} {'backend':>7} {'LDDMM s':>9} {'normal. s':>9} {'ratio':>6} {'peak MB':>8} {'residual':>9}")
    for n in a.sizes:
        for backend in a.backends:
            if backend == "torch" and n > DENSE_LIMIT:
                print(f"{n:>7} {backend:>7}  skipped: dense N x N autograd would need tens of GB")
                continue
            child = [str(n), "lddmm", backend, "--steps", str(a.steps), "--repeats", str(a.repeats), "--dtype", a.dtype]
            child += ["--device", a.device]
            plain = run_child(child, a.timeout)
            child[1] = "normalized"
            norm = run_child(child, a.timeout)
            if "error" in plain or "error" in norm:
                print(f"{n:>7} {backend:>7}  failed: {plain.get('error') or norm.get('error')}")
                continue
            ratio = norm["seconds"] / plain["seconds"]
            peak = max(plain["peak_mb"], norm["peak_mb"])
            print(f"{norm['n']:>7} {norm['backend']:>7} {plain['seconds']:>9.3f} {norm['seconds']:>9.3f} "
                  f"{ratio:>6.2f} {peak:>8.0f} {norm['sinkhorn_max_residual']:>9.1e}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
