"""The JSON summary of a registration (File > Export > Summary), read from the document alone."""

from __future__ import annotations

from dataclasses import asdict

from ..core.model import geodesic_distance
from ..core.surface_distance import SurfaceDistances, surface_distances
from .state import Document
from .wording import mismatch_change


def result_title(doc: Document) -> str:
    """The result view's title: what is shown, its state, iteration and mismatch gained."""
    res, src, tgt = doc.result, doc.meshes.get("source"), doc.meshes.get("target")
    if res is None:
        return "Result: running, waiting for the first iteration" if doc.running else "Result: press Run"
    rep = res.report
    pair = f"{src.name} -> {tgt.name}" if src is not None and tgt is not None else ""
    state = "running" if doc.running else rep.status
    return f"Result: {pair} ({state}, iteration {rep.iteration}, mismatch {mismatch_change(1 - rep.fidelity_drop)})"


def final_surface_distances(doc: Document) -> SurfaceDistances:
    """Both ways between the deformed source (the last frame) and the target, per vertex."""
    source, target = doc.meshes["source"], doc.meshes["target"]
    return surface_distances(doc.result.trajectory[-1], source.faces, target.vertices, target.faces)


def summary(doc: Document, distances: SurfaceDistances | None = None) -> dict:
    """Inputs, settings, what the run used, the final numbers, the surface distances of the last frame (as in
    the command line's result.json; ``distances``: already measured) and the loss history; needs a result."""
    if doc.result is None:
        raise ValueError("there is no registration result to summarise")
    rep, info = doc.result.report, doc.result.info
    if distances is None:
        distances = final_surface_distances(doc)
    return {
        "source": str(doc.paths.get("source", "")),
        "target": str(doc.paths.get("target", "")),
        "settings": asdict(doc.settings),
        "used": info,
        "status": rep.status,
        "iterations": rep.iteration,
        "hamiltonian": rep.energy,
        "distance": geodesic_distance(rep.energy),
        "fidelity_final": rep.fidelity,
        # the final level's (the drop's reference, as in the command line's result.json), not the first level's
        "fidelity_initial": rep.fidelity_initial,
        "fidelity_drop": rep.fidelity_drop,
        "loss_final": rep.loss,
        "surface_distance": {**distances.to_json(), "frame": doc.result.n_frames - 1},  # the last, t = 1
        "alignment": info.get("alignment"),  # the source's pre-alignment: 4x4 matrix, angle, translation, scale
        **({"target_alignment": info["target_alignment"]} if "target_alignment" in info else {}),  # template jobs
        "landmark_errors": doc.result.landmark_errors() or None,  # label -> |phi_1(l) - l'| at the end
        "history": doc.history.as_dict(),
    }
