"""Peak memory of a shooting (no gradient) on a large mesh: it must grow linearly with N.

Each configuration runs in its own process; peak resident memory is read from the OS.
    .venv/bin/python benchmarks/memory_shooting.py [--sizes 12500 25000 50000] [--steps 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def child(n: int, cometric: str, control: int | None, steps: int, device: str) -> dict:
    import numpy as np
    import torch

    from benchmarks.meshes import mesh_of_size
    from shapeviewer.core.model import DeformationModel, ModelSettings

    v, f = mesh_of_size(n)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    settings = ModelSettings(cometric=cometric, backend="keops", steps=steps, control_points=control, device=device)
    model = DeformationModel(v, f, None, settings)
    rng = np.random.default_rng(0)
    p0 = model.momenta_tensor(rng.normal(scale=1e-3, size=(model.n_control, 3)))
    start = time.perf_counter()
    traj = model.shoot(p0, create_graph=False)
    frames = np.stack([model.to_user(x) for x in traj.points])
    seconds = time.perf_counter() - start
    gpu = torch.cuda.max_memory_allocated() / 2**20 if model.device.type == "cuda" else None
    return {
        "n": len(v),
        "control": model.n_control,
        "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "mesh_mb": base,
        "frames_mb": frames.nbytes / 2**20,
        "gpu_mb": gpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[12500, 25000, 50000])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", nargs=3)
    a = parser.parse_args()
    if a.child:
        n, cometric, control = a.child
        control = None if control == "all" else int(control)
        print(json.dumps(child(int(n), cometric, control, a.steps, a.device)))
        return
    print(f"shooting without gradient, {a.steps} Euler steps, float32, KeOps, {a.device}; peak = whole process")
    print(f"{'N':>7} {'cometric':>10} {'control':>7} {'seconds':>8} {'peak MB':>8} {'frames MB':>9} {'GPU MB':>7}")
    for n in a.sizes:
        for cometric, control in (("lddmm", "all"), ("normalized", "2000")):
            cmd = [sys.executable, __file__, "--child", str(n), cometric, control]
            cmd += ["--steps", str(a.steps), "--device", a.device]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if not lines:
                print(f"{n:>7} {cometric:>10} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
                continue
            r = json.loads(lines[-1])
            gpu = f"{r['gpu_mb']:.0f}" if r["gpu_mb"] is not None else "-"
            print(f"{r['n']:>7} {cometric:>10} {r['control']:>7} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f} "
                  f"{r['frames_mb']:>9.1f} {gpu:>7}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
