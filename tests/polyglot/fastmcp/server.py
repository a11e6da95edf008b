"""A FastMCP server file, served by pier: only the import line differs from FastMCP's.
Built with the Python SDK (`scripts/componentize.sh pysdk`)."""

from dataclasses import dataclass
from enum import Enum
from typing import Annotated

from pier_sdk import Context, FastMCP, Field, Image, Message, ToolError, config, http, storage

mcp = FastMCP("weather")

PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2215fbc0000000049454e44ae426082"
)


class Unit(Enum):
    """Temperature units."""

    C = "celsius"
    F = "fahrenheit"


@dataclass
class Reading:
    city: str
    temperature: float
    unit: Unit = Unit.C


@mcp.tool
def forecast(city: Annotated[str, Field(description="The city's name")], ctx: Context, days: int = 1) -> Reading:
    """The forecast for a city.

    Args:
        days: How many days ahead.
    """
    ctx.info(f"forecast for {city}", extra={"days": days})
    ctx.report_progress(1, 1)
    return Reading(city, 21.5 + days)


@mcp.tool
def convert(value: float, to: Unit) -> float:
    """Converts a temperature given in the other unit."""
    return round(value * 9 / 5 + 32, 1) if to is Unit.F else round((value - 32) * 5 / 9, 1)


@mcp.tool(name="cities", tags={"geo"}, annotations={"readOnlyHint": True})
def list_cities(prefix: str = "") -> list[str]:
    return [c for c in ["Delft", "Denver", "Oslo"] if c.startswith(prefix)]


@mcp.tool
def pixel() -> Image:
    """A one-pixel picture."""
    return Image(data=PIXEL, format="png")


@mcp.tool
async def slow_add(a: int, b: int) -> int:
    return a + b


@mcp.tool
def refuse(city: str) -> str:
    raise ToolError(f"no data for {city}")


@mcp.tool
def crash() -> str:
    return {}["missing"]


@mcp.tool
async def summarise(city: str, ctx: Context) -> str:
    """Asks the client's model, then the user."""
    answer = await ctx.sample(f"Summarise the weather in {city}.", max_tokens=40)
    confirmed = await ctx.elicit("Share it?", response_type=bool)
    if confirmed.action != "accept":
        return f"not shared ({confirmed.action})"
    return f"{answer.text} (shared: {confirmed.data})"


@mcp.tool
async def readme(ctx: Context) -> str:
    """Reads another mount's resource."""
    contents = await ctx.read_resource("hello://hello/readme")
    return contents[0].text.splitlines()[0]


@mcp.tool
def visit(city: str) -> dict:
    """Counts visits per city in the plugin's storage."""
    count = storage.increment(f"visits/{city}")
    storage.set_json("last", {"city": city})
    return {"visits": count, "last": storage.get_json("last"), "cities": list(storage.keys("visits/"))}


@mcp.tool
def setting(key: str) -> str:
    return config.get(key, "unset")


@mcp.tool
def fetch(url: str) -> str:
    try:
        response = http.get(url)
    except http.HttpError as e:
        raise ToolError(str(e))
    return f"{response.status} {response.text}"


@mcp.resource("weather://stations")
def stations() -> dict:
    """Every station."""
    return {"stations": ["Delft", "Oslo"]}


@mcp.resource("weather://{city}/now", mime_type="application/json")
def now(city: str, ctx: Context) -> dict:
    """The weather now."""
    ctx.info(f"reading the weather in {city}")
    return {"city": city, "temperature": 20}


@mcp.completion
def complete(ref, argument, context):
    if ref.type == "ref/resource" and argument.name == "city":
        return [c for c in ["Delft", "Denver", "Oslo"] if c.startswith(argument.value)]
    return None


@mcp.prompt
def briefing(city: str, days: int = 1) -> list:
    """A weather briefing."""
    return [Message(f"Brief me on {city} for {days} day(s)."), Message("Here it comes.", role="assistant")]


if __name__ == "__main__":
    mcp.run()
