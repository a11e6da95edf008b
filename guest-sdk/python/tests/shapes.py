"""Types both test modules declare tools with."""

import dataclasses
import enum


class Documented(enum.Enum):
    """Units we know."""

    C = "celsius"
    F = "fahrenheit"


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0
