"""The SDK's schemas against FastMCP's own for the same functions.

Each function of `CORPUS` is registered with a real FastMCP 4 server (pydantic under
CPython) and passed to `pier_sdk.schema`; the input schema, output schema and
description must be equal, key for key.
"""

import asyncio
import dataclasses
import enum
import warnings
from typing import Annotated, Any, Literal, Optional, Union

import pydantic
import pytest
from typing_extensions import NotRequired, TypedDict

from pier_sdk import schema
from pier_sdk.schema import Field, SchemaError
from shapes import Documented, Point

warnings.simplefilter("ignore")  # FastMCP's deprecation notices


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Segment:
    start: Point
    end: Point
    tags: list[str] = dataclasses.field(default_factory=list)


class Address(TypedDict):
    street: str
    number: int
    note: NotRequired[str]


def scalars(a: int, b: float, c: str, d: bool) -> int:
    """Scalars of every kind."""
    return a


def defaults(a: int = 2, b: float = 1, c: str = "x", d: bool = False, e: None = None) -> str:
    return ""


def optionals(a: Optional[str] = None, b: int | None = 5, c: Union[int, str] = 1, d: Optional[int] = None) -> float:
    return 0.0


def literals(mode: Literal["fast", "slow"], level: Literal[1, 2] = 1, only: Literal["a"] = "a") -> bool:
    return True


def enums(color: Color, level: Level = Level.LOW, unit: Documented = Documented.C) -> Color:
    return color


def containers(
    names: list[str],
    scores: dict[str, float],
    pair: tuple[int, str],
    many: tuple[int, ...],
    unique: set[str],
    anything: list = [],
    mapping: dict = {},
    nested: list[dict[str, list[int]]] = [],
) -> list[int]:
    return []


def described(
    city: Annotated[str, pydantic.Field(description="The city's name")],
    days: Annotated[int, "How many days ahead"] = 1,
    units: str = "metric",
    country: Annotated[str, pydantic.Field(description="A country code")] = "NL",
    region: str = "",
) -> dict[str, float]:
    """Forecast for a city.

    More detail on a second paragraph.

    Args:
        units: metric or imperial
            (continued on a second line).
        region: A region within the country.
        country: Not used: the annotation's description wins.
        city: Not used either.
    """
    return {}


@dataclasses.dataclass
class Reading:
    """One measurement."""

    value: float
    unit: Documented = Documented.C


def documented_object(reading: Reading) -> Reading:
    return reading


def objects(point: Point, segment: Segment, address: Address, maybe: Optional[Point] = None) -> Point:
    return point


def typed_dict_out() -> Address:
    return {"street": "x", "number": 1}


def optional_out() -> Optional[Point]:
    return None


def none_out(x: Any) -> None:
    return None


def untyped(a, b=3):
    return a


def bare_list_out() -> list:
    return []


def any_out() -> Any:
    return 1


def bytes_out() -> bytes:
    return b""


def no_params():
    """Nothing to pass.

    Returns:
        nothing at all
    """


CORPUS = [
    scalars,
    defaults,
    optionals,
    literals,
    enums,
    containers,
    described,
    documented_object,
    objects,
    typed_dict_out,
    optional_out,
    none_out,
    untyped,
    bare_list_out,
    any_out,
    bytes_out,
    no_params,
]


def fastmcp_tools():
    from fastmcp import FastMCP

    server = FastMCP("corpus")
    for fn in CORPUS:
        server.tool(fn)

    async def listed():
        return {t.name: t.to_mcp_tool() for t in await server.list_tools()}

    return asyncio.run(listed())


FASTMCP = fastmcp_tools()


@pytest.mark.parametrize("fn", CORPUS, ids=lambda fn: fn.__name__)
def test_input_schema_is_fastmcps(fn):
    assert schema.input_schema(fn) == FASTMCP[fn.__name__].input_schema


@pytest.mark.parametrize("fn", CORPUS, ids=lambda fn: fn.__name__)
def test_output_schema_is_fastmcps(fn):
    assert schema.output_schema(fn) == FASTMCP[fn.__name__].output_schema


@pytest.mark.parametrize("fn", CORPUS, ids=lambda fn: fn.__name__)
def test_description_is_fastmcps(fn):
    assert schema.description_of(fn) == FASTMCP[fn.__name__].description


def test_the_sdks_field_describes_as_pydantics_does():
    def ours(city: Annotated[str, Field(description="The city's name")]) -> str:
        return city

    def theirs(city: Annotated[str, pydantic.Field(description="The city's name")]) -> str:
        return city

    assert schema.input_schema(ours) == schema.input_schema(theirs)
    assert schema.input_schema(ours)["properties"]["city"] == {"description": "The city's name", "type": "string"}


def test_unsupported_hints_name_the_parameter():
    def bad(when: complex) -> int:
        return 0

    with pytest.raises(SchemaError, match=r"parameter `when` of `bad`: no JSON Schema for the type <class 'complex'>"):
        schema.input_schema(bad)

    def int_keys(m: dict[int, str]) -> int:
        return 0

    with pytest.raises(SchemaError, match="JSON objects have string keys"):
        schema.input_schema(int_keys)


def test_recursive_types_are_refused():
    @dataclasses.dataclass
    class Node:
        value: int
        children: list["Node"]

    def tree(root: Node) -> int:
        return 0

    tree.__annotations__["root"] = Node
    Node.__annotations__["children"] = list[Node]
    with pytest.raises(SchemaError, match="Node refers to itself"):
        schema.input_schema(tree)


def test_parameters_skipped_by_hint_leave_the_schema():
    class Context:
        pass

    def with_ctx(city: str, ctx: Context) -> str:
        return city

    assert schema.input_schema(with_ctx, skip=lambda hint: hint is Context) == {
        "additionalProperties": False,
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "type": "object",
    }
