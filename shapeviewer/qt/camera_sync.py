"""Cameras that turn and zoom together while each stays centred on its own mesh.

One shared camera (pyvista's ``link_views``) draws a target far from the source, or in another pose, small
and off-centre in both views. Here every renderer has its own camera; when one moves, the others take its
direction of view, view-up and zoom (distance relative to their own mesh's size) around their own focal
point.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pyvista as pv


class CameraSync:
    def __init__(self, renderers):
        self.renderers = list(renderers)
        self.sizes = [1.0] * len(self.renderers)  # each view's mesh size (bounding-box diagonal)
        self._busy = False
        for i, renderer in enumerate(self.renderers):
            camera = pv.Camera()
            camera.SetPosition(1.0, 1.0, 1.0)  # pyvista's default: an isometric view, kept by each fit
            camera.SetFocalPoint(0.0, 0.0, 0.0)
            camera.SetViewUp(0.0, 0.0, 1.0)
            renderer.camera = camera
            camera.AddObserver("ModifiedEvent", lambda _obj, _event, i=i: self.follow(i))

    def camera(self, index: int):
        return self.renderers[index].GetActiveCamera()

    def set_size(self, index: int, size: float) -> None:
        self.sizes[index] = float(size) if size > 0 else 1.0

    @contextmanager
    def paused(self):
        """Move cameras one by one (fitting each to its mesh) without them following each other."""
        busy, self._busy = self._busy, True
        try:
            yield
        finally:
            self._busy = busy

    def follow(self, index: int) -> None:
        """The other cameras take camera ``index``'s direction, view-up, angle and relative distance."""
        if self._busy:
            return
        with self.paused():
            lead = self.camera(index)
            focal, position = np.array(lead.GetFocalPoint()), np.array(lead.GetPosition())
            direction = focal - position
            length = float(np.linalg.norm(direction))
            if length == 0:
                return
            direction /= length
            relative = length / self.sizes[index]
            scale = lead.GetParallelScale() / self.sizes[index]
            for j, renderer in enumerate(self.renderers):
                if j == index:
                    continue
                cam = self.camera(j)
                own = np.array(cam.GetFocalPoint())
                cam.SetPosition(*(own - direction * relative * self.sizes[j]))
                cam.SetViewUp(*lead.GetViewUp())
                cam.SetViewAngle(lead.GetViewAngle())
                cam.SetParallelProjection(lead.GetParallelProjection())
                cam.SetParallelScale(scale * self.sizes[j])
                renderer.ResetCameraClippingRange()
