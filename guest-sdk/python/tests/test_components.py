"""Resources and prompts through `pier_sdk.FastMCP` against FastMCP 4 serving the same
declarations: what is listed, what a read returns, what a prompt renders."""

import asyncio
import base64
import warnings

import pytest

from pier_sdk import FastMCP, Message
from pier_sdk.content import Text
from pier_sdk.server import NotFoundError
from shapes import Documented as Unit

warnings.simplefilter("ignore")


def declare(cls, message_cls):
    mcp = cls("components")

    @mcp.resource("weather://readme")
    def readme() -> str:
        """The readme."""
        return "hello"

    @mcp.resource("weather://{city}/now", mime_type="application/json")
    def now(city: str) -> dict:
        """Weather now."""
        return {"city": city, "t": 1, "feel": "naïve"}

    @mcp.resource("data://blob")
    def blob() -> bytes:
        return b"\x00\x01"

    @mcp.resource("data://list")
    def numbers() -> list:
        return [1, 2]

    @mcp.resource("data://{a}/{b}", name="pair", title="A pair", description="two parts", tags={"x"})
    def pair(a: str, b: int) -> str:
        return f"{a}:{b + 1}"

    @mcp.resource("files://{path*}")
    def files(path: str) -> str:
        return f"file {path}"

    @mcp.prompt
    def ask(topic: str, depth: int = 1, unit: Unit = Unit.C) -> str:
        """Ask about a topic.

        Args:
            topic: what to ask about
        """
        return f"Tell me about {topic} ({depth}, {unit.value})"

    @mcp.prompt(name="conversation", description="A conversation")
    def conv(x: str) -> list:
        return [message_cls(f"hi {x}"), message_cls("hello", role="assistant"), message_cls({"k": [1]})]

    @mcp.prompt("plain")
    async def plain() -> str:
        return "just this"

    return mcp


READS = [
    "weather://readme",
    "weather://delft/now",
    "weather://New%20York/now",
    "data://blob",
    "data://list",
    "data://x/2",
    "files://a/b/c.txt",
]
PROMPTS = [
    ("ask", {"topic": "bees"}),
    ("ask", {"topic": "bees", "depth": "2", "unit": '"fahrenheit"'}),
    ("conversation", {"x": "y"}),
    ("plain", {}),
]


def fastmcp_view():
    from fastmcp import Client
    from fastmcp import FastMCP as Real
    from fastmcp.prompts import Message as RealMessage

    server = declare(Real, RealMessage)

    async def run():
        async with Client(server) as client:
            listed = {
                "resources": sorted(
                    (r.uri.__str__(), r.name, r.title, r.description, r.mime_type)
                    for r in await client.list_resources()
                ),
                "templates": sorted(
                    (t.uri_template, t.name, t.title, t.description, t.mime_type)
                    for t in await client.list_resource_templates()
                ),
                "prompts": sorted(
                    (p.name, p.description, tuple((a.name, a.description, a.required) for a in p.arguments or []))
                    for p in await client.list_prompts()
                ),
            }
            reads = []
            for uri in READS:
                contents = []
                for c in await client.read_resource(uri):
                    data = getattr(c, "text", None)
                    if data is None:
                        data = base64.b64decode(c.blob)
                    contents.append((str(c.uri), c.mime_type, data))
                reads.append(contents)
            renders = []
            for name, args in PROMPTS:
                result = await client.get_prompt(name, args)
                renders.append(
                    (result.description, [(m.role, m.content.text) for m in result.messages])
                )
            return listed, reads, renders

    return asyncio.run(run())


THEIRS = fastmcp_view()
OURS = declare(FastMCP, Message)


def test_lists_are_fastmcps():
    listed = {
        "resources": sorted(
            (r.uri, r.name, r.title, r.description, r.mime_type) for r in OURS.resources.values() if not r.is_template
        ),
        "templates": sorted(
            (r.uri, r.name, r.title, r.description, r.mime_type) for r in OURS.resources.values() if r.is_template
        ),
        "prompts": sorted(
            (p.name, p.description, tuple((a.name, a.description, a.required) for a in p.arguments))
            for p in OURS.prompts.values()
        ),
    }
    assert listed == THEIRS[0]


@pytest.mark.parametrize("index", range(len(READS)), ids=READS)
def test_reads_are_fastmcps(index):
    contents = [
        (c.uri, c.mime_type, c.text if c.text is not None else c.blob) for c in OURS.read_resource(READS[index])
    ]
    assert contents == THEIRS[1][index]


@pytest.mark.parametrize("index", range(len(PROMPTS)), ids=[f"{n}-{i}" for i, (n, _) in enumerate(PROMPTS)])
def test_prompts_render_as_fastmcps(index):
    name, args = PROMPTS[index]
    result = OURS.get_prompt(name, args)
    rendered = (result.description, [(m.role, m.content.text) for m in result.messages])
    assert rendered == THEIRS[2][index]


def test_bad_reads_and_renders_say_why():
    with pytest.raises(NotFoundError, match="Unknown resource: 'weather://delft'"):
        OURS.read_resource("weather://delft")
    with pytest.raises(NotFoundError, match="Unknown prompt: 'nope'"):
        OURS.get_prompt("nope")
    with pytest.raises(ValueError, match="missing argument\\(s\\) of prompt `ask`: topic"):
        OURS.get_prompt("ask", {})
    with pytest.raises(ValueError, match="unknown argument\\(s\\) of prompt `ask`: colour"):
        OURS.get_prompt("ask", {"topic": "t", "colour": "red"})


def test_declarations_that_cannot_work_are_refused():
    mcp = FastMCP("bad")

    def f() -> str:
        return ""

    with pytest.raises(ValueError, match="resource template `x://\\{id\\}`: `f` has no parameter id"):
        mcp.resource("x://{id}")(f)
    with pytest.raises(ValueError, match="resource `x://static`: `g` takes parameters"):

        def g(a: str) -> str:
            return a

        mcp.resource("x://static")(g)
    with pytest.raises(ValueError, match="a message's role is `user` or `assistant`, not 'system'"):
        Message("hi", role="system")
    assert Message(["a", 1]).content == Text('["a",1]')


def declare_completion(cls):
    mcp = cls("completing")

    @mcp.prompt
    def poem(theme: str) -> str:
        return f"A poem about {theme}"

    @mcp.resource("weather://{city}/now")
    def now(city: str) -> str:
        return city

    @mcp.completion
    async def complete(ref, argument, context):
        if ref.type == "ref/prompt" and ref.name == "poem" and argument.name == "theme":
            return [t for t in ["nature", "love", "night"] if t.startswith(argument.value)]
        if ref.type == "ref/resource" and argument.name == "city":
            return [f"{argument.value}{i}" for i in range(150)]
        return None

    return mcp


COMPLETIONS = [("prompt", "poem", "theme", "n"), ("prompt", "poem", "other", ""), ("resource", "weather://{city}/now", "city", "x")]


def test_completions_are_fastmcps():
    import fastmcp
    import mcp_types
    from fastmcp import Client

    from pier_sdk import PromptReference, ResourceTemplateReference

    async def theirs():
        async with Client(declare_completion(fastmcp.FastMCP)) as client:
            answers = []
            for kind, target, argument, value in COMPLETIONS:
                ref = (
                    mcp_types.PromptReference(type="ref/prompt", name=target)
                    if kind == "prompt"
                    else mcp_types.ResourceTemplateReference(type="ref/resource", uri=target)
                )
                answers.append((await client.complete(ref, {"name": argument, "value": value})).values)
            return answers

    ours = declare_completion(FastMCP)
    mine = [
        ours.complete(PromptReference(target) if kind == "prompt" else ResourceTemplateReference(target), argument, value)
        for kind, target, argument, value in COMPLETIONS
    ]
    expected = asyncio.run(theirs())
    assert mine == expected
    assert mine[0] == ["nature", "night"] and mine[1] == [] and len(mine[2]) == 100

    @ours.completion()
    def wrong(ref, argument, context):
        return "one"

    with pytest.raises(TypeError, match="A completion handler returned a str"):
        ours.complete(PromptReference("poem"), "theme", "")


def test_a_resource_function_gets_the_context():
    from pier_sdk import Context

    mcp = FastMCP("ctx")

    @mcp.resource("who://{name}")
    def who(name: str, ctx: Context) -> str:
        return f"{name} via {ctx}"

    @mcp.resource("who://me")
    async def me(ctx: Context) -> str:
        return f"me via {ctx}"

    assert [c.text for c in mcp.read_resource("who://ada", context="the context")] == ["ada via the context"]
    assert [c.text for c in mcp.read_resource("who://me", context="the context")] == ["me via the context"]
