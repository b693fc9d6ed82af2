"""Execution profiles: ``params/<profile>.yaml``, the one home of sampler settings and seed.

A profile lists the notebook steps of a report run with their parameters. The trial model's
sampler settings of a profile are those of its ``02-trial-model`` step; the notebooks' own
parameter defaults are the smoke profile (a test checks that they agree).
"""

from __future__ import annotations

import yaml

from analysis import config

#: The notebook whose step parameters define a profile's sampler settings.
TRIAL_NOTEBOOK = "02-trial-model"
SAMPLER_KEYS = ("draws", "tune", "chains")


def available() -> list[str]:
    """The profiles in ``params/``."""
    return sorted(p.stem for p in config.PARAMS.glob("*.yaml"))


def _load(profile: str) -> dict:
    return yaml.safe_load((config.PARAMS / f"{profile}.yaml").read_text())


def load_profile(profile: str) -> dict:
    """Read ``params/<profile>.yaml`` (ValueError naming the allowed profiles otherwise)."""
    if profile not in available():
        raise ValueError(f"unknown profile {profile!r}; allowed: {available()}")
    return _load(profile)


def step_parameters(profile: str, notebook: str) -> dict:
    """The parameters a profile passes to one notebook (shared by its runs)."""
    for entry in load_profile(profile)["steps"]:
        if entry["notebook"] == notebook:
            return dict(entry.get("parameters") or {})
    return {}


def sampler_parameters(profile: str) -> dict:
    """``draws``, ``tune`` and ``chains`` of a profile, plus the run's ``seed``."""
    params = step_parameters(profile, TRIAL_NOTEBOOK)
    out = {k: params[k] for k in SAMPLER_KEYS if k in params}
    out["seed"] = config.DEFAULT_SEED
    return out


#: The one profile whose numbers are for interpretation (the others are quick checks).
INTERPRETED_PROFILE = "full"


def for_interpretation(profile: str) -> bool:
    """Whether a run of ``profile`` gives numbers to interpret (otherwise the report says so)."""
    return profile == INTERPRETED_PROFILE
