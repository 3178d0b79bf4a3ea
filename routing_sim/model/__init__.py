"""The process vocabulary: pydantic models that a YAML config is validated into."""

from routing_sim.model.distributions import Distribution, ServiceTime
from routing_sim.model.process import (
    Calendar,
    Deadline,
    Decide,
    Kind,
    Pool,
    ProcessConfig,
    Route,
    Source,
    Spawn,
    Stage,
    Tally,
)

__all__ = [
    "Calendar",
    "Deadline",
    "Decide",
    "Distribution",
    "Kind",
    "Pool",
    "ProcessConfig",
    "Route",
    "ServiceTime",
    "Source",
    "Spawn",
    "Stage",
    "Tally",
]
