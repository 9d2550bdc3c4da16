"""The error every mesh reader raises: one line naming the file and the problem."""


class MeshReadError(ValueError):
    """A mesh file that cannot be used; the message names the file and the problem."""
