"""Tool calls through `pier_sdk.FastMCP` against the same file served by FastMCP 4.

`make_server(FastMCP)` declares one set of tools with either class; each case calls a
tool in both and compares the result (content blocks, structured content, error flag)
as the client sees it. FastMCP's side runs through its in-memory `Client`.
"""

import asyncio
import base64
import dataclasses
import json
import warnings
from typing import Optional

import pytest

from pier_sdk import Context, FastMCP, Image, ToolError
from pier_sdk.content import Blob, Embedded, Text
from shapes import Documented as Unit
from shapes import Point

warnings.simplefilter("ignore")

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def make_server(cls, image_cls, tool_error, **settings):
    mcp = cls("weather", **settings)

    @mcp.tool
    def greet(name: str) -> str:
        """Greets."""
        return f"Hello, {name}!"

    @mcp.tool
    def untyped(name):
        return f"hi {name}"

    @mcp.tool
    def add(a: int, b: float = 1) -> float:
        return a + b

    @mcp.tool
    def nothing() -> None:
        return None

    @mcp.tool
    def as_dict(city: str) -> dict[str, float]:
        return {"temp": 21.5, "wind": 3}

    @mcp.tool
    def untyped_dict(city: str):
        return {"city": city, "ok": True}

    @mcp.tool
    def numbers(n: int) -> list[int]:
        return list(range(n))

    @mcp.tool
    def untyped_list(n: int):
        return [{"i": i} for i in range(n)]

    @mcp.tool
    def convert(t: float, unit: Unit = Unit.C) -> Unit:
        assert isinstance(unit, Unit)
        return Unit.F if unit is Unit.C else Unit.C

    @mcp.tool
    def mirror(p: Point, others: list[Point] = []) -> Point:
        assert isinstance(p, Point) and all(isinstance(o, Point) for o in others)
        return Point(p.y, p.x + sum(o.x for o in others))

    @mcp.tool
    def maybe(p: Optional[Point] = None) -> Optional[Point]:
        return p

    @mcp.tool
    def picture() -> image_cls:
        return image_cls(data=PNG, format="png")

    @mcp.tool
    def mixed():
        return ["caption", image_cls(data=PNG, format="png"), {"k": 1}]

    @mcp.tool
    def unicode(text: str) -> str:
        return text + " — ✓"

    @mcp.tool
    def refuses(x: int) -> int:
        raise tool_error(f"cannot do {x}")

    @mcp.tool
    def crashes(x: int) -> int:
        raise RuntimeError("database unreachable")

    @mcp.tool
    async def slow(x: int) -> int:
        return x * 2

    @mcp.tool(name="renamed", description="Explicit description.", tags={"b", "a"}, annotations={"readOnlyHint": True})
    def original(x: int) -> int:
        return x

    return mcp


CASES = [
    ("greet", {"name": "Ada"}),
    ("untyped", {"name": "Ada"}),
    ("add", {"a": 2}),
    ("add", {"a": 2, "b": 0.5}),
    ("nothing", {}),
    ("as_dict", {"city": "Delft"}),
    ("untyped_dict", {"city": "Delft"}),
    ("numbers", {"n": 3}),
    ("numbers", {"n": 0}),
    ("untyped_list", {"n": 2}),
    ("convert", {"t": 20, "unit": "celsius"}),
    ("mirror", {"p": {"x": 1, "y": 2}, "others": [{"x": 3}]}),
    ("maybe", {"p": {"x": 1}}),
    ("maybe", {}),
    ("picture", {}),
    ("mixed", {}),
    ("unicode", {"text": "naïve"}),
    ("refuses", {"x": 7}),
    ("crashes", {"x": 7}),
    ("slow", {"x": 21}),
    ("renamed", {"x": 5}),
]


def fastmcp_results(cases, **settings):
    from fastmcp import Client
    from fastmcp import FastMCP as Real
    from fastmcp.exceptions import ToolError as RealToolError
    from fastmcp.utilities.types import Image as RealImage

    server = make_server(Real, RealImage, RealToolError, **settings)

    async def run():
        out = []
        async with Client(server) as client:
            for name, args in cases:
                result = await client.call_tool(name, args, raise_on_error=False)
                out.append(normalise_real(result))
        return out

    return asyncio.run(run())


def normalise_real(result):
    blocks = []
    for block in result.content:
        if block.type == "text":
            blocks.append(("text", block.text))
        elif block.type in ("image", "audio"):
            blocks.append((block.type, base64.b64decode(block.data), block.mime_type))
        else:
            blocks.append((block.type,))
    return blocks, result.structured_content, bool(result.is_error)


def normalise_ours(output):
    blocks = []
    for block in output.content:
        if isinstance(block, Text):
            blocks.append(("text", block.text))
        elif isinstance(block, Blob):
            blocks.append((block.kind, block.data, block.mime_type))
        else:
            assert isinstance(block, Embedded)
            blocks.append(("resource",))
    return blocks, output.structured, output.is_error


@pytest.mark.parametrize("mask", [False, True], ids=["details", "masked"])
def test_results_are_fastmcps(mask):
    ours = make_server(FastMCP, Image, ToolError, mask_error_details=mask)
    expected = fastmcp_results(CASES, mask_error_details=mask)
    for (name, args), theirs in zip(CASES, expected):
        assert normalise_ours(ours.call_tool(name, args)) == theirs, (name, args)


def test_declared_metadata_reaches_the_tool():
    tool = make_server(FastMCP, Image, ToolError).tools["renamed"]
    assert (tool.name, tool.description, tool.tags, tool.annotations) == (
        "renamed",
        "Explicit description.",
        ["a", "b"],
        {"readOnlyHint": True},
    )


def test_errors_name_what_went_wrong():
    mcp = make_server(FastMCP, Image, ToolError)
    assert normalise_ours(mcp.call_tool("crashes", '{"x": 1}')) == (
        [("text", "Error calling tool 'crashes': database unreachable")],
        None,
        True,
    )
    with pytest.raises(Exception, match="Unknown tool: 'nope'"):
        mcp.call_tool("nope", {})
    with pytest.raises(ValueError, match="tool `greet` is registered twice"):
        mcp.tool(lambda name: name, name="greet")


class FakeHost:
    def __init__(self):
        self.logs = []
        self.progress = []

    def log(self, level, message, data):
        self.logs.append((level, message, data))

    def report_progress(self, progress, total, message):
        self.progress.append((progress, total, message))


def test_a_context_parameter_is_injected_and_left_out_of_the_schema():
    mcp = FastMCP("ctx")

    @mcp.tool
    def work(steps: int, ctx: Context) -> str:
        ctx.info("starting", extra={"steps": steps})
        for i in range(steps):
            ctx.report_progress(i + 1, steps)
        ctx.debug("done", logger_name="worker")
        return "ok"

    assert mcp.tools["work"].input_schema == {
        "additionalProperties": False,
        "properties": {"steps": {"type": "integer"}},
        "required": ["steps"],
        "type": "object",
    }
    host = FakeHost()
    output = mcp.call_tool("work", {"steps": 2}, Context(host))
    assert normalise_ours(output) == ([("text", "ok")], {"result": "ok"}, False)
    assert host.logs == [("info", "starting", '{"extra":{"steps":2}}'), ("debug", "done", '{"logger":"worker"}')]
    assert host.progress == [(1.0, 2.0, None), (2.0, 2.0, None)]


class AskingHost(FakeHost):
    """Answers sampling and elicitation as a client would."""

    def __init__(self, elicited=("accept", {"value": "Ada"})):
        super().__init__()
        self.asked = []
        self.elicited = elicited
        self.state = {}

    def sample(self, request):
        self.asked.append(("sample", json.loads(request)))
        return json.dumps({"role": "assistant", "content": {"type": "text", "text": "A summary."}, "model": "m"})

    def elicit(self, message, requested):
        self.asked.append(("elicit", message, json.loads(requested)))
        return self.elicited

    def get_state(self, key):
        return self.state.get(key)

    def set_state(self, key, value):
        self.state[key] = value


def asking_server():
    mcp = FastMCP("asking")

    @mcp.tool
    async def summarise(text: str, ctx: Context) -> str:
        await ctx.info("summarising")
        answer = await ctx.sample(f"Summarise: {text}", system_prompt="Be brief.", max_tokens=50)
        await ctx.set_state("last", {"text": text})
        return f"{answer.text} {(await ctx.get_state('last'))['text']}"

    @mcp.tool
    async def ask_name(ctx: Context) -> str:
        result = await ctx.elicit("Your name?", response_type=str)
        return result.data if result.action == "accept" else result.action

    @mcp.tool
    def book(ctx: Context) -> str:
        result = ctx.elicit("Booking?", response_type=Booking).result
        return f"{result.data.party} at {result.data.time}" if result.action == "accept" else result.action

    return mcp


@dataclasses.dataclass
class Booking:
    party: int
    time: str = "19:00"


def test_sampling_and_state_through_the_host():
    host = AskingHost()
    output = asking_server().call_tool("summarise", {"text": "long text"}, Context(host))
    assert normalise_ours(output) == ([("text", "A summary. long text")], {"result": "A summary. long text"}, False)
    assert host.asked == [
        (
            "sample",
            {
                "messages": [{"role": "user", "content": {"type": "text", "text": "Summarise: long text"}}],
                "maxTokens": 50,
                "systemPrompt": "Be brief.",
            },
        )
    ]
    assert host.logs == [("info", "summarising", None)]
    assert host.state == {"last": '{"text": "long text"}'}


@pytest.mark.parametrize(
    "answer, said",
    [(("accept", {"value": "Ada"}), "Ada"), (("decline", None), "decline"), (("cancel", None), "cancel")],
)
def test_elicitation_answers(answer, said):
    host = AskingHost(answer)
    output = asking_server().call_tool("ask_name", {}, Context(host))
    assert output.content == [Text(said)]
    assert host.asked == [
        (
            "elicit",
            "Your name?",
            {"properties": {"value": {"title": "Value", "type": "string"}}, "required": ["value"], "type": "object"},
        )
    ]


def test_elicitation_schemas_are_fastmcps():
    from fastmcp.server.elicitation import parse_elicit_response_type

    from pier_sdk.context import elicitation_schema

    for response_type in [str, int, bool, float, Booking, ["fast", "slow"], Unit]:
        assert elicitation_schema(response_type)[0] == parse_elicit_response_type(response_type).schema, response_type
    with pytest.raises(TypeError, match="ctx.elicit\\(\\) requires a response_type"):
        elicitation_schema(None)


def test_a_structured_elicitation_answer_becomes_the_type():
    host = AskingHost(("accept", {"party": 4}))
    output = asking_server().call_tool("book", {}, Context(host))
    assert output.content == [Text("4 at 19:00")]
