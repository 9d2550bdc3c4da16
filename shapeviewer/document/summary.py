"""The JSON summary of a registration (File > Export > Summary), read from the document alone."""

from __future__ import annotations

from dataclasses import asdict

from ..core.model import geodesic_distance
from .state import Document


def summary(doc: Document) -> dict:
    """Inputs, settings, what the run used, the final numbers and the loss history; needs a result."""
    if doc.result is None:
        raise ValueError("there is no registration result to summarise")
    rep, info = doc.result.report, doc.result.info
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
        "fidelity_initial": info.get("fidelity_initial"),
        "fidelity_drop": rep.fidelity_drop,
        "loss_final": rep.loss,
        "history": doc.history.as_dict(),
    }
