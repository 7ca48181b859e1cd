"""Compatibility test: the official `openai` Python SDK (pinned in run.sh) against Tether.

Run by run.sh, which starts the servers and sets
  TETHER_URL           a Tether serving its embedded demo model (random weights: text is random,
                       but structured output and tool calls are grammar-constrained)
  TETHER_UPSTREAM_URL  a Tether in front of the scripted Chat Completions upstream (upstream.mjs);
                       the tests that need it are skipped when it is unset
Written with unittest so that it runs under pytest (when it could be installed) or
`python -m unittest` alike.
"""

import asyncio
import json
import os
import re
import unittest
from enum import Enum
from typing import Literal

import openai
from openai import OpenAI
from pydantic import BaseModel

SDK_VERSION = "3.22.1"
TETHER_URL = os.environ.get("TETHER_URL", "http://127.0.0.1:8080")
UPSTREAM_TETHER_URL = os.environ.get("TETHER_UPSTREAM_URL")
DEMO_MODEL = os.environ.get("TETHER_DEMO_MODEL", "demo-small")

# U+FFFD (a broken UTF-8 sequence) and control characters other than tab and newlines
BAD_CHARS = re.compile("[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def client(url: str = TETHER_URL) -> OpenAI:
    # no retries: a failure must show up as the first error, not be retried into a pass
    return OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=60)


def output_text(response) -> str:
    return "".join(
        part.text
        for item in response.output
        if item.type == "message"
        for part in item.content
        if part.type == "output_text"
    )


class Color(str, Enum):
    red = "red"
    green = "green"
    blue = "blue"


class Pet(BaseModel):
    name: str
    kind: Literal["cat", "dog", "fish"]
    color: Color
    age: int


WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    "strict": True,
}


class DemoModelTest(unittest.TestCase):
    """The embedded engine serving the generated demo model."""

    @classmethod
    def setUpClass(cls):
        cls.client = client()

    def test_sdk_version_is_pinned(self):
        self.assertEqual(openai.__version__, SDK_VERSION)

    def test_stream_then_get_final_response(self):
        deltas = []
        with self.client.responses.stream(model=DEMO_MODEL, input="Say hello.") as stream:
            for event in stream:
                if event.type == "response.output_text.delta":
                    deltas.append(event.delta)
            final = stream.get_final_response()
        self.assertEqual(final.status, "completed", final)
        text = output_text(final)
        self.assertTrue(text, "empty answer")
        self.assertIsNone(BAD_CHARS.search(text), f"U+FFFD or a control character in {text!r}")
        self.assertEqual("".join(deltas), text)
        self.assertEqual(final.output_text, text)
        self.assertEqual(final.max_output_tokens, 128)
        self.assertGreater(final.usage.output_tokens, 0)

    def test_models_list_retrieve_and_unknown_is_not_found(self):
        ids = [m.id for m in self.client.models.list()]
        self.assertIn(DEMO_MODEL, ids)
        model = self.client.models.retrieve(DEMO_MODEL)
        self.assertEqual(model.id, DEMO_MODEL)
        self.assertEqual(model.object, "model")
        with self.assertRaises(openai.NotFoundError) as caught:
            self.client.models.retrieve("no-such-model")
        self.assertEqual(caught.exception.status_code, 404)
        self.assertEqual(caught.exception.code, "model_not_found")

    def test_parse_with_pydantic_text_format(self):
        response = self.client.responses.parse(
            model=DEMO_MODEL,
            input="Invent a pet.",
            text_format=Pet,
            max_output_tokens=400,
        )
        self.assertEqual(response.status, "completed", response)
        self.assertEqual(response.text.format.type, "json_schema")
        pet = response.output_parsed
        self.assertIsInstance(pet, Pet)
        self.assertIn(pet.kind, ("cat", "dog", "fish"))
        self.assertIsInstance(pet.color, Color)
        self.assertIsInstance(pet.age, int)
        self.assertEqual(Pet.model_validate_json(response.output_text), pet)

    def test_required_function_call_then_output(self):
        first = self.client.responses.create(
            model=DEMO_MODEL,
            input="What is the weather in Paris?",
            tools=[WEATHER_TOOL],
            tool_choice="required",
            parallel_tool_calls=False,
            max_output_tokens=200,
        )
        self.assertEqual(first.status, "completed", first)
        calls = [item for item in first.output if item.type == "function_call"]
        self.assertEqual(len(calls), 1, first.output)
        call = calls[0]
        self.assertEqual(call.name, "get_weather")
        args = json.loads(call.arguments)
        self.assertLessEqual({"city", "unit"}, set(args))
        self.assertIsInstance(args["city"], str)
        self.assertIn(args["unit"], ("celsius", "fahrenheit"))

        second = self.client.responses.create(
            model=DEMO_MODEL,
            previous_response_id=first.id,
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"temp": 21}'}],
            tools=[WEATHER_TOOL],
        )
        self.assertEqual(second.status, "completed", second)
        self.assertEqual(second.previous_response_id, first.id)
        self.assertTrue(second.output, "no output after the tool result")

    def test_input_tokens_count_equals_usage(self):
        request = dict(instructions="You are terse.", input="Count my tokens, please.")
        counted = self.client.responses.input_tokens.count(model=DEMO_MODEL, **request)
        self.assertEqual(counted.object, "response.input_tokens")
        self.assertGreater(counted.input_tokens, 0)
        created = self.client.responses.create(model=DEMO_MODEL, max_output_tokens=16, **request)
        self.assertEqual(created.usage.input_tokens, counted.input_tokens)

    def test_previous_response_id_reuses_the_cache(self):
        first = self.client.responses.create(model=DEMO_MODEL, input="First turn.", max_output_tokens=16)
        self.assertIn(first.status, ("completed", "incomplete"))
        second = self.client.responses.create(
            model=DEMO_MODEL, previous_response_id=first.id, input="Second turn.", max_output_tokens=16
        )
        self.assertIn(second.status, ("completed", "incomplete"))
        self.assertGreater(second.usage.input_tokens_details.cached_tokens, 0, second.usage)
        self.assertGreater(second.usage.input_tokens, first.usage.input_tokens)

    def test_compact(self):
        first = self.client.responses.create(model=DEMO_MODEL, input="Remember: the code is 42.", max_output_tokens=32)
        compacted = self.client.responses.compact(
            model=DEMO_MODEL, previous_response_id=first.id, input="What was the code?"
        )
        self.assertEqual(compacted.object, "response.compaction")
        types = [item.type for item in compacted.output]
        self.assertEqual(types[0], "compaction", types)
        self.assertTrue(compacted.output[0].encrypted_content.startswith("tether.v1."))
        self.assertEqual(types[1:], ["message"])
        self.assertEqual(compacted.output[1].role, "user")
        self.assertGreater(compacted.usage.output_tokens, 0)

        # the window starts a new chain. The SDK types `output` as output items, so the kept user
        # message (input_text parts) makes pydantic warn on dump; the values are dumped as received.
        window = [item.model_dump(exclude_none=True, warnings=False) for item in compacted.output]
        next_turn = self.client.responses.create(model=DEMO_MODEL, input=window, max_output_tokens=16)
        self.assertIn(next_turn.status, ("completed", "incomplete"))

    def test_websocket_create_then_store_false_continuation(self):
        try:
            import websockets  # noqa: F401  (openai[realtime])
        except ImportError:
            self.skipTest("websockets is not installed (openai[realtime])")

        def run_turn(connection, **params):
            connection.response.create(model=DEMO_MODEL, max_output_tokens=16, **params)
            deltas = []
            for event in connection:
                if event.type == "error":
                    self.fail(f"error event: {event}")
                if event.type == "response.output_text.delta":
                    deltas.append(event.delta)
                if event.type in ("response.completed", "response.incomplete", "response.failed"):
                    return event.response, "".join(deltas)
            self.fail("the socket closed before the response ended")

        with self.client.responses.connect() as connection:
            first, first_text = run_turn(connection, input="Hello over WebSocket.", store=False)
            self.assertIn(first.status, ("completed", "incomplete"), first)
            self.assertEqual(first_text, output_text(first))
            second, _ = run_turn(connection, input="And again.", previous_response_id=first.id, store=False)
            self.assertIn(second.status, ("completed", "incomplete"), second)
            self.assertEqual(second.previous_response_id, first.id)
            self.assertGreater(second.usage.input_tokens, first.usage.input_tokens)

        # store:false state belonged to that connection: over HTTP it does not exist
        with self.assertRaises(openai.BadRequestError):
            self.client.responses.create(model=DEMO_MODEL, previous_response_id=first.id, input="x")

    def test_async_client_stream(self):
        async def main():
            async with openai.AsyncOpenAI(base_url=TETHER_URL + "/v1", api_key="unused", max_retries=0) as aclient:
                async with aclient.responses.stream(model=DEMO_MODEL, input="Hi") as stream:
                    deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
                    final = await stream.get_final_response()
            return deltas, final

        deltas, final = asyncio.run(main())  # get_final_response needs response.completed
        self.assertEqual(final.status, "completed", final)
        self.assertEqual("".join(deltas), output_text(final))


@unittest.skipUnless(UPSTREAM_TETHER_URL, "TETHER_UPSTREAM_URL is not set")
class ScriptedUpstreamTest(unittest.TestCase):
    """A Tether in front of the scripted Chat Completions upstream (upstream.mjs)."""

    @classmethod
    def setUpClass(cls):
        cls.client = client(UPSTREAM_TETHER_URL)

    def test_upstream_error_is_api_status_error_502(self):
        with self.assertRaises(openai.APIStatusError) as caught:
            self.client.responses.create(model="scripted", input="please FAIL500 now")
        self.assertEqual(caught.exception.status_code, 502)
        self.assertEqual(caught.exception.code, "upstream_error")

    def test_upstream_text(self):
        response = self.client.responses.create(model="scripted", input="hello")
        self.assertEqual(response.status, "completed", response)
        self.assertEqual(response.output_text, "echo: hello")


if __name__ == "__main__":
    unittest.main(verbosity=2)
