"""Calls one tool of pier with the Python `mcp` SDK's `Client` inside a trace of its own,
recorded by the OpenTelemetry SDK and sent over OTLP: what an agent that traces does.

Usage:
  traced.py URL OTLP_ENDPOINT

The SDK makes a CLIENT span per request and puts its context in the request's `_meta`
(SEP-414). Prints one JSON object: the trace id and the span id of the agent's own
span around the call, and the tool's text.
"""

import asyncio
import json
import sys

from mcp import Client
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor


async def main(url: str, endpoint: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "python-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("agent")
    with tracer.start_as_current_span("agent turn") as turn:
        async with Client(url) as client:
            result = await client.call_tool("hello_greet", {"name": "otel"})
        context = turn.get_span_context()
    provider.shutdown()
    print(
        json.dumps(
            {
                "trace_id": format(context.trace_id, "032x"),
                "span_id": format(context.span_id, "016x"),
                "text": result.content[0].text,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
