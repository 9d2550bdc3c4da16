"""shapeviewer: diffeomorphic registration of 3D surface meshes with kernel cometrics."""

__version__ = "0.1.0"
