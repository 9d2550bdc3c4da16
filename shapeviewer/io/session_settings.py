"""RegistrationSettings from a session's settings dict: unknown keys and wrong types are a SessionProblem."""

from __future__ import annotations

import dataclasses
import types
import typing

from .session_checks import SessionProblem, check_dict, check_keys


def settings_from_dict(data, validate: bool = True):
    """RegistrationSettings from its ``asdict`` form (missing keys default); ``validate`` runs its own checks."""
    from ..core.registration import RegistrationSettings

    settings = _build(RegistrationSettings, data, "settings")
    if validate:
        try:
            settings.validate()
        except (TypeError, ValueError) as exc:
            raise SessionProblem(f"invalid settings: {exc}") from None
    return settings


def _build(cls, data, where: str):
    check_keys(check_dict(data, where), [f.name for f in dataclasses.fields(cls)], where)
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, f"{where}.{name}")
        elif not _fits(value, hint):
            raise SessionProblem(f"{where}.{name} = {value!r:.60} is not of type {_name(hint)}")
        else:
            values[name] = value
    return cls(**values)


def _fits(value, hint) -> bool:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if isinstance(value, bool):
        return bool in options
    return any(isinstance(value, (int, float) if t is float else t) for t in options)


def _name(hint) -> str:
    return " or ".join(getattr(t, "__name__", str(t)) for t in typing.get_args(hint)) or hint.__name__
