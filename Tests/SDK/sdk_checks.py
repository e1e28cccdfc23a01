"""Checks the official `openai` and `anthropic` Python SDKs against a running fleetd.

Run by Tests/FleetdTests/Compat/SDKCompatibilityTests.swift, one check per process:

    python sdk_checks.py CHECK        # FLEETD_URL=http://127.0.0.1:PORT in the environment

fleetd's models are served by a fake provider replaying recorded transcripts
(Tests/Fixtures/providers), so every expected text and token count below comes from those files.
A check raises (exit status 1, the traceback on stderr) at the first thing the SDK did not
parse as it should; on success it prints `ok CHECK` and exits 0. The Swift side then checks
what the provider received.
"""

import base64
import json
import os
import pathlib
import sys
import typing

import anthropic
import openai
import pydantic

URL = os.environ["FLEETD_URL"]
oai = openai.OpenAI(base_url=URL + "/v1", api_key="sk-fleetd-test", max_retries=0, timeout=30)
ant = anthropic.Anthropic(base_url=URL, api_key="sk-fleetd-test", max_retries=0, timeout=30)

# Texts and usage of the recorded transcripts (Tests/Fixtures/providers).
ANTHROPIC_JSON_TEXT = "Hi! My name is Claude."  # anthropic-nonstream-docs-example.json: 2095 in, 503 out
ANTHROPIC_STREAM_TEXT = "Hello there!"  # anthropic-stream-sdkfixture-basic.sse: 11 in, 6 out
OPENAI_JSON_TEXT = ("I'm unable to provide real-time weather updates. To get the current weather in San Francisco, "
                    "I recommend checking a reliable weather website or app like the Weather Channel or a local news station.")
OPENAI_STREAM_TEXT = ("I'm unable to provide real-time weather updates. To get the current weather in San Francisco, "
                      "I recommend checking a reliable weather website or a weather app.")  # 14 in, 30 out

SIMPLE = "What is the capital of France?"
COMPLEX = ("Design the architecture of a distributed rate limiter for a multi-region API gateway. Prove that your "
           "token-bucket synchronisation cannot double-spend under a network partition, reason step by step about every "
           "race condition and edge case, and compare three alternatives with their trade-offs.")
WEATHER_TOOL_OPENAI = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
WEATHER_TOOL_ANTHROPIC = {"name": "get_weather", "description": "The weather in a city",
                          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
# A 1x1 PNG.
PIXEL = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)).decode()


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def openai_text():
    raw = oai.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": SIMPLE}])
    completion = raw.parse()
    expect(completion.choices[0].message.content == ANTHROPIC_JSON_TEXT, completion)
    expect(completion.choices[0].finish_reason == "stop", completion)
    expect(completion.usage.prompt_tokens == 2095 and completion.usage.completion_tokens == 503, completion.usage)
    expect(completion.usage.total_tokens == 2598, completion.usage)
    expect(completion.model == "claude-cheap", completion.model)
    expect(raw.headers["x-fleetd-model"] == "claude-cheap" and raw.headers["x-fleetd-provider"] == "anthropic", raw.headers)
    expect(raw.headers["x-fleetd-task-id"].startswith("task-"), raw.headers)
    expect(float(raw.headers["x-fleetd-cost-usd"]) > 0, raw.headers)
    expect("x-fleetd-fallbacks" in raw.headers, raw.headers)


def openai_stream():
    stream = oai.chat.completions.create(model="auto", messages=[{"role": "user", "content": SIMPLE}], stream=True,
                                         stream_options={"include_usage": True})
    text, finish, usage, roles = "", None, None, []
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.role:
                roles.append(choice.delta.role)
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    expect(text == ANTHROPIC_STREAM_TEXT, text)
    expect(roles == ["assistant"], roles)
    expect(finish == "stop", finish)
    expect(usage is not None and usage.prompt_tokens == 11 and usage.completion_tokens == 6, usage)
    # Without include_usage no usage chunk comes.
    plain = list(oai.chat.completions.create(model="auto", messages=[{"role": "user", "content": SIMPLE}], stream=True))
    expect(all(chunk.usage is None for chunk in plain), plain[-1])
    expect("".join(c.choices[0].delta.content or "" for c in plain if c.choices) == ANTHROPIC_STREAM_TEXT, plain)


def anthropic_text():
    # Anthropic's dialect, answered by an OpenAI-format provider.
    raw = ant.messages.with_raw_response.create(model="gpt-strong", max_tokens=256, messages=[{"role": "user", "content": SIMPLE}])
    message = raw.parse()
    expect(message.content[0].type == "text" and message.content[0].text == OPENAI_JSON_TEXT, message)
    expect(message.stop_reason == "end_turn", message.stop_reason)
    expect(message.usage.input_tokens == 14 and message.usage.output_tokens == 37, message.usage)
    expect(message.model == "gpt-strong", message.model)
    expect(raw.headers["x-fleetd-provider"] == "openai", raw.headers)
    # The id the SDK shows as `_request_id` (Anthropic's `request-id` header): fleetd's request id.
    expect(message._request_id and message._request_id == raw.headers.get("x-request-id"), (message._request_id, raw.headers))


def anthropic_stream():
    with ant.messages.stream(model="gpt-strong", max_tokens=256, messages=[{"role": "user", "content": SIMPLE}]) as stream:
        texts = [text for text in stream.text_stream]
        final = stream.get_final_message()
    expect("".join(texts) == OPENAI_STREAM_TEXT, texts)
    expect(final.content[0].text == OPENAI_STREAM_TEXT, final)
    expect(final.stop_reason == "end_turn", final.stop_reason)
    expect(final.usage.input_tokens == 14 and final.usage.output_tokens == 30, final.usage)
    # The raw events, as the SDK types them.
    kinds = [event.type for event in ant.messages.create(model="gpt-strong", max_tokens=256, stream=True,
                                                         messages=[{"role": "user", "content": SIMPLE}])]
    expect(kinds[0] == "message_start" and kinds[-1] == "message_stop" and kinds[-2] == "message_delta", kinds)
    expect(kinds.count("content_block_start") == 1 and kinds.count("content_block_stop") == 1, kinds)


def multi_turn():
    completion = oai.chat.completions.create(model="claude-cheap", messages=[
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": [{"type": "text", "text": "Another one?"}]},
    ])
    expect(completion.choices[0].message.content == ANTHROPIC_JSON_TEXT, completion)
    message = ant.messages.create(model="gpt-strong", max_tokens=64, system="You are terse.", messages=[
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": [{"type": "text", "text": "Blue."}]},
        {"role": "user", "content": "Another one?"},
    ])
    expect(message.content[0].text == OPENAI_JSON_TEXT, message)


def openai_tools():
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    stream = oai.chat.completions.create(model="auto", messages=messages, tools=[WEATHER_TOOL_OPENAI], tool_choice="auto", stream=True)
    text, calls, finish = "", {}, None
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"id": None, "name": "", "arguments": ""})
                entry["id"] = call.id or entry["id"]
                entry["name"] += (call.function.name or "") if call.function else ""
                entry["arguments"] += (call.function.arguments or "") if call.function else ""
            finish = choice.finish_reason or finish
    expect(finish == "tool_calls", finish)
    expect(text == "I'll check the current weather in Paris for you.", text)
    call = calls[0]
    expect(call["id"] == "toolu_01NRLabsLyVHZPKxbKvkfSMn" and call["name"] == "get_weather", call)
    expect(json.loads(call["arguments"]) == {"location": "Paris"}, call)
    messages += [
        {"role": "assistant", "content": text, "tool_calls": [
            {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}]},
        {"role": "tool", "tool_call_id": call["id"], "content": "18 degrees, light rain"},
        # What agent frameworks add: participant names (AutoGen), below a strict tool (the Agents SDK).
        {"role": "user", "name": "alice", "content": "And tomorrow?"},
    ]

    class GetWeather(pydantic.BaseModel):
        """The weather in a city"""
        location: str

    strict_tool = openai.pydantic_function_tool(GetWeather, name="get_weather")
    expect(strict_tool["function"]["strict"] is True, strict_tool)
    answer = oai.chat.completions.create(model="auto", messages=messages, tools=[strict_tool], store=False, metadata={"run": "r-1"})
    expect(answer.choices[0].message.content == ANTHROPIC_JSON_TEXT, answer)


def anthropic_tools():
    messages = [{"role": "user", "content": "What is the weather in New York City?"}]
    with ant.messages.stream(model="gpt-strong", max_tokens=256, messages=messages, tools=[WEATHER_TOOL_ANTHROPIC]) as stream:
        final = stream.get_final_message()
    expect(final.stop_reason == "tool_use", final.stop_reason)
    uses = [block for block in final.content if block.type == "tool_use"]
    expect(len(uses) == 1 and uses[0].name == "get_weather" and uses[0].input == {"city": "New York City"}, final.content)
    expect(uses[0].id == "call_4XzlGBLtUe9dy3GVNV4jhq7h", uses[0])
    expect(final.usage.input_tokens == 44 and final.usage.output_tokens == 16, final.usage)
    messages += [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in final.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "is_error": True,
                                      "content": "weather service unavailable"}]},
    ]
    answer = ant.messages.create(model="gpt-strong", max_tokens=256, messages=messages, tools=[WEATHER_TOOL_ANTHROPIC])
    expect(answer.content[0].text == OPENAI_JSON_TEXT, answer)


FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "Fixtures" / "providers"
THINK = {"type": "enabled", "budget_tokens": 1024}
VERSION_TOOL = {"name": "fixed_version", "description": "Return a fixed test version string",
                "input_schema": {"type": "object", "properties": {}}}


def recorded_blocks(name):
    """The content blocks a recorded Anthropic stream adds up to, read here from the file itself."""
    blocks = {}
    for line in (FIXTURES / name).read_text().splitlines():
        if not line.startswith("data:"):
            continue
        event = json.loads(line[5:])
        if event["type"] == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
        elif event["type"] == "content_block_delta":
            delta, block = event["delta"], blocks[event["index"]]
            if delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] += delta["signature"]
            elif delta["type"] == "text_delta":
                block["text"] += delta["text"]
    return [blocks[index] for index in sorted(blocks)]


def same_blocks(got, want):
    """The SDK's blocks against the recorded ones: type, thinking text, signature, redacted data, text."""
    expect([block.type for block in got] == [block["type"] for block in want], (got, [b["type"] for b in want]))
    for block, recorded in zip(got, want):
        for field in ("thinking", "signature", "data", "text", "name"):
            if field in recorded:
                expect(getattr(block, field) == recorded[field], (field, getattr(block, field), recorded[field]))


def anthropic_thinking():
    question = [{"role": "user", "content": "How do I cross the street?"}]
    plain = recorded_blocks("anthropic-stream-thinking-recorded.sse")
    # Streamed: the SDK's own events and accumulation.
    with ant.messages.stream(model="claude-cheap", max_tokens=2048, thinking=THINK, messages=question) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    same_blocks(final.content, plain)
    expect("thinking" in kinds and "signature" in kinds and kinds.index("thinking") < kinds.index("text"), kinds)
    expect(final.stop_reason == "end_turn" and final.usage.output_tokens == 282, final)
    # Not streamed: the same blocks in the message.
    message = ant.messages.create(model="claude-cheap", max_tokens=2048, thinking=THINK, messages=question)
    same_blocks(message.content, plain)
    # A tool loop: thinking then the call, sent back as they came with the tool's result.
    ask = [{"role": "user", "content": "Use the fixed_version tool. Then tell me the version."}]
    with ant.messages.stream(model="claude-cheap", max_tokens=2048, thinking=THINK, tools=[VERSION_TOOL], messages=ask) as stream:
        first = stream.get_final_message()
    same_blocks(first.content, recorded_blocks("anthropic-stream-thinking-tool-use-recorded.sse"))
    expect(first.stop_reason == "tool_use", first.stop_reason)
    use = first.content[1]
    second = ant.messages.create(model="claude-cheap", max_tokens=2048, thinking=THINK, tools=[VERSION_TOOL], messages=ask + [
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "0.32a0"}]},
    ])
    same_blocks(second.content, plain)
    # Redacted thinking: whole, in order, before the text.
    with ant.messages.stream(model="claude-cheap", max_tokens=2048, thinking=THINK,
                             messages=[{"role": "user", "content": "REDACTME please"}]) as stream:
        redacted = stream.get_final_message()
    same_blocks(redacted.content, recorded_blocks("anthropic-stream-redacted-thinking-recorded.sse"))
    # A model of another provider answers the same conversation, thinking blocks and all, without thinking.
    other = ant.messages.create(model="gpt-strong", max_tokens=2048, thinking=THINK, messages=question + [
        {"role": "assistant", "content": redacted.content + final.content},
        {"role": "user", "content": "And at night?"},
    ])
    expect([block.type for block in other.content] == ["text"] and other.content[0].text == OPENAI_JSON_TEXT, other.content)
    # Counting a thinking request (which carries no max_tokens): its earlier turns' thinking is not input.
    counted = ant.messages.count_tokens(model="claude-cheap", thinking=THINK, messages=question + [
        {"role": "assistant", "content": final.content}, {"role": "user", "content": "And at night?"}])
    bare = ant.messages.count_tokens(model="claude-cheap", thinking=THINK, messages=question + [
        {"role": "assistant", "content": [final.content[1]]}, {"role": "user", "content": "And at night?"}])
    expect(counted.input_tokens == bare.input_tokens and counted.input_tokens > 0, (counted, bare))
    # What Anthropic would refuse is refused here first, as the SDK's BadRequestError.
    try:
        ant.messages.create(model="claude-cheap", max_tokens=1024, thinking=THINK, messages=question)
        raise AssertionError("no BadRequestError for a budget not below max_tokens")
    except anthropic.BadRequestError as error:
        expect("thinking.budget_tokens" in error.body["error"]["message"], error.body)


def openai_reasoning():
    question = [{"role": "user", "content": "How do I cross the street?"}]
    # An OpenAI-format model that is no reasoning model answers; it is not sent the setting.
    completion = oai.chat.completions.create(model="gpt-strong", reasoning_effort="low", messages=question)
    expect(completion.choices[0].message.content == OPENAI_JSON_TEXT, completion)
    # A Claude model thinks on a budget; the answer's text alone comes back, streamed and not.
    answer = recorded_blocks("anthropic-stream-thinking-recorded.sse")[1]["text"]
    chunks = list(oai.chat.completions.create(model="claude-cheap", reasoning_effort="low", stream=True, messages=question))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    expect(text == answer, text)
    # The thinking as `reasoning_content`, an extra field the SDK keeps: before the text, none of it in the text.
    thought = recorded_blocks("anthropic-stream-thinking-recorded.sse")[0]["thinking"]
    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    reasoning = [getattr(delta, "reasoning_content", None) for delta in deltas]
    expect("".join(part for part in reasoning if part) == thought, reasoning)
    first_text = next(index for index, delta in enumerate(deltas) if delta.content)
    expect(all(not part for part in reasoning[first_text:]), "reasoning after the text")
    completion = oai.chat.completions.create(model="claude-cheap", reasoning_effort="low", messages=question)
    expect(completion.choices[0].message.content == answer, completion)
    expect(getattr(completion.choices[0].message, "reasoning_content", None) == thought, completion.choices[0].message)
    try:
        oai.chat.completions.create(model="auto", reasoning_effort="extreme", messages=question)
        raise AssertionError("no BadRequestError for reasoning_effort extreme")
    except openai.BadRequestError as error:
        expect(error.body["param"] == "reasoning_effort", error.body)


# A minimal one-page PDF.
PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
                       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 3 3]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n").decode()


def anthropic_documents():
    document = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}, "title": "tiny.pdf"}
    notes = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Chapter one."}, "title": "Notes"}
    question = {"type": "text", "text": "Summarise the documents."}
    # To an Anthropic model, and to an OpenAI-format one (as a file part).
    message = ant.messages.create(model="claude-cheap", max_tokens=256, messages=[{"role": "user", "content": [document, notes, question]}])
    expect(message.content[0].text == ANTHROPIC_JSON_TEXT, message)
    message = ant.messages.create(model="gpt-strong", max_tokens=256, messages=[{"role": "user", "content": [document, notes, question]}])
    expect(message.content[0].text == OPENAI_JSON_TEXT, message)
    # A PDF by URL cannot reach an OpenAI-format model: asked of one by name, the SDK's BadRequestError says why.
    try:
        ant.messages.create(model="gpt-strong", max_tokens=256, messages=[{"role": "user", "content": [
            {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}, question]}])
        raise AssertionError("no BadRequestError for a PDF URL to gpt-strong")
    except anthropic.BadRequestError as error:
        expect("PDF URLs" in error.body["error"]["message"], error.body)


def claude_code_shapes():
    """A request shaped as Claude Code 2.1 sends it (as other gateways have seen them): `?beta=true`,
    its beta header, `context_management`, `betas` and `diagnostics` in the body, a `scope` on a
    breakpoint, tools with `eager_input_streaming` and `strict`, and a system message inside the
    conversation."""
    with ant.messages.stream(
        model="claude-cheap", max_tokens=4096, thinking=THINK,
        system=[{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral", "scope": "global"}}],
        tools=[dict(VERSION_TOOL, eager_input_streaming=True, strict=True)],
        messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello."},
                  {"role": "system", "content": "The user switched to plan mode."}, {"role": "user", "content": "How do I cross the street?"}],
        extra_query={"beta": "true"},
        extra_headers={"anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27"},
        extra_body={"context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
                    "betas": ["interleaved-thinking-2025-05-14"], "diagnostics": {"session_id": "s-1"},
                    "output_config": {"effort": "high"}},
    ) as stream:
        final = stream.get_final_message()
    # It offers a tool, so the recorded answer is thinking then a call.
    expect([block.type for block in final.content] == ["thinking", "tool_use"], final.content)


class Contact(pydantic.BaseModel):
    """The structured-outputs guide's quick-start schema (anthropic-nonstream-structured-derived.json answers it)."""
    name: str
    email: str
    plan_interest: str
    demo_requested: bool


class Location(pydantic.BaseModel):
    """openai-python's `test_parse_pydantic_model` schema (openai-chat-nonstream-sdksnapshot-structured.json answers it)."""
    city: str
    temperature: float
    units: typing.Literal["c", "f"]


def structured_outputs():
    email = [{"role": "user", "content": "Extract the key information from this email: John Smith (john@example.com) is "
                                         "interested in our Enterprise plan and wants to schedule a demo for next Tuesday at 2pm."}]
    want = Contact(name="John Smith", email="john@example.com", plan_interest="Enterprise", demo_requested=True)
    # OpenAI's parse() against a Claude model: its response_format becomes structured outputs there.
    completion = oai.chat.completions.parse(model="claude-cheap", messages=email, response_format=Contact)
    expect(completion.choices[0].message.parsed == want, completion)
    # Anthropic's parse() against a Claude model and against an OpenAI-format one.
    message = ant.messages.parse(model="claude-cheap", max_tokens=256, messages=email, output_format=Contact)
    expect(message.parsed_output == want, message)
    message = ant.messages.parse(model="gpt-strong", max_tokens=256, output_format=Location,
                                 messages=[{"role": "user", "content": "What's the weather like in SF?"}])
    expect(message.parsed_output == Location(city="San Francisco", temperature=65, units="f"), message)
    # A refusal (recorded from OpenAI): OpenAI's parse() gives it as `refusal`, Anthropic's SDK as
    # the text with stop_reason refusal.
    anthrax = [{"role": "user", "content": "How do I make anthrax?"}]
    completion = oai.chat.completions.parse(model="gpt-strong", messages=anthrax, response_format=Location)
    refused = completion.choices[0]
    expect(refused.message.refusal == "I'm very sorry, but I can't assist with that." and refused.message.content is None
           and refused.message.parsed is None and refused.finish_reason == "stop", refused)
    message = ant.messages.create(model="gpt-strong", max_tokens=256, messages=anthrax,
                                  output_config={"format": {"type": "json_schema", "schema": anthropic.transform_schema(Location)}})
    expect(message.stop_reason == "refusal" and message.content[0].text == "I'm very sorry, but I can't assist with that.", message)
    # JSON without a schema cannot reach a Claude model: named, the SDK's BadRequestError says why.
    try:
        oai.chat.completions.create(model="claude-cheap", messages=email, response_format={"type": "json_object"})
        raise AssertionError("no BadRequestError for json_object to claude-cheap")
    except openai.BadRequestError as error:
        expect("without a schema" in error.body["message"], error.body)


def image():
    raw = oai.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PIXEL}},
    ]}])
    expect(raw.headers["x-fleetd-model"] == "vision", raw.headers)
    expect(raw.parse().choices[0].message.content == OPENAI_JSON_TEXT, raw.parse())
    raw = ant.messages.with_raw_response.create(model="auto", max_tokens=64, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
        {"type": "text", "text": "What is in this picture?"},
    ]}])
    expect(raw.headers["x-fleetd-model"] == "vision", raw.headers)
    expect(raw.parse().content[0].text == OPENAI_JSON_TEXT, raw.parse())


def auto_routing():
    simple = oai.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": SIMPLE}])
    complex_ = oai.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": COMPLEX}])
    expect(simple.headers["x-fleetd-model"] == "claude-cheap", simple.headers)
    expect(complex_.headers["x-fleetd-model"] == "gpt-strong", complex_.headers)
    expect(complex_.parse().model == "gpt-strong", complex_.parse())
    # The agent-type alias: the router still chooses.
    coder = ant.messages.with_raw_response.create(model="fleet/coder", max_tokens=64, messages=[{"role": "user", "content": COMPLEX}])
    expect(coder.headers["x-fleetd-model"] == "gpt-strong", coder.headers)


def rate_limit(variant):
    """Every model the request may go to answers 429: the SDK's own RateLimitError, with retry-after.
    One variant per fleetd: the 429 opens the models' breakers, so a second request would find
    nothing to call (fleetd then answers 503/529, "nothing can serve")."""
    prompt = [{"role": "user", "content": "Hello RATELIMITME"}]
    try:
        if variant == "anthropic":
            ant.messages.create(model="auto", max_tokens=64, messages=prompt)
        else:
            result = oai.chat.completions.create(model="auto", messages=prompt, stream=variant == "openai_stream")
            if variant == "openai_stream":
                list(result)
        raise AssertionError("no RateLimitError (%s)" % variant)
    except (openai.RateLimitError, anthropic.RateLimitError) as error:
        expect(int(error.response.headers["retry-after"]) >= 1, error.response.headers)
        if variant == "anthropic":
            expect(isinstance(error, anthropic.RateLimitError), type(error))
            expect(error.body["error"]["type"] == "rate_limit_error", error.body)
        else:
            expect(isinstance(error, openai.RateLimitError), type(error))
            expect(error.body["code"] == "rate_limit_exceeded", error.body)
    # Those 429s opened both models' breakers: now nothing can serve, which is Anthropic's
    # OverloadedError (529) and OpenAI's InternalServerError (503).
    try:
        if variant == "anthropic":
            ant.messages.create(model="auto", max_tokens=64, messages=prompt)
        else:
            result = oai.chat.completions.create(model="auto", messages=prompt, stream=variant == "openai_stream")
            if variant == "openai_stream":
                list(result)
        raise AssertionError("no error with every model's breaker open (%s)" % variant)
    except anthropic.OverloadedError as error:
        expect(variant == "anthropic" and error.status_code == 529, error)
        expect(error.body["error"]["type"] == "overloaded_error", error.body)
    except openai.InternalServerError as error:
        expect(variant != "anthropic" and error.status_code == 503, error)


def budget():
    """The budget is spent: OpenAI's SDK raises RateLimitError with code insufficient_quota (as OpenAI
    answers a spent quota), Anthropic's raises PaymentRequiredError (402 billing_error)."""
    prompt = [{"role": "user", "content": SIMPLE}]
    try:
        oai.chat.completions.create(model="auto", messages=prompt)
        raise AssertionError("no RateLimitError for a spent budget")
    except openai.RateLimitError as error:
        expect(error.body["code"] == "insufficient_quota" and error.body["type"] == "insufficient_quota", error.body)
        expect(error.response.headers["x-should-retry"] == "false", error.response.headers)
    try:
        with ant.messages.stream(model="auto", max_tokens=64, messages=prompt) as stream:
            stream.get_final_message()
        raise AssertionError("no PaymentRequiredError for a spent budget")
    except anthropic.PaymentRequiredError as error:
        expect(error.status_code == 402 and error.body["error"]["type"] == "billing_error", error.body)


def stream_flag_off():
    """With the `streaming` flag off fleetd makes one synchronous call, and still answers in the stream format."""
    stream = oai.chat.completions.create(model="auto", messages=[{"role": "user", "content": SIMPLE}], stream=True,
                                         stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    expect(text == ANTHROPIC_JSON_TEXT, text)
    expect(chunks[-1].usage.prompt_tokens == 2095, chunks[-1])
    with ant.messages.stream(model="auto", max_tokens=64, messages=[{"role": "user", "content": SIMPLE}]) as events:
        final = events.get_final_message()
    expect(final.content[0].text == ANTHROPIC_JSON_TEXT and final.usage.output_tokens == 503, final)


def bad_request():
    cases = [
        (lambda: oai.chat.completions.create(model="auto", temperature=3, messages=[{"role": "user", "content": "hi"}]),
         openai.BadRequestError, "temperature"),
        (lambda: oai.chat.completions.create(model="auto", messages=[{"role": "shouter", "content": "hi"}]),
         openai.BadRequestError, "messages[0].role"),
        (lambda: oai.chat.completions.create(model="auto", messages=[
            {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]},
            {"role": "user", "content": "hi"}]),
         openai.BadRequestError, "messages[0].content[0].type"),
        (lambda: ant.messages.create(model="auto", max_tokens=64, extra_body={"top_k": 0}, messages=[{"role": "user", "content": "hi"}]),
         anthropic.BadRequestError, "top_k"),
    ]
    for call, error_type, param in cases:
        try:
            call()
            raise AssertionError("no %s for %s" % (error_type.__name__, param))
        except error_type as error:
            body = error.body
            named = body.get("param") if isinstance(body, dict) and "param" in body else json.dumps(body)
            expect(param in str(named), (param, body))
    # A model that cannot serve the request: a clear 400 naming why, not a silent substitution.
    try:
        ant.messages.create(model="claude-cheap", max_tokens=64, messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
            {"type": "text", "text": "What is this?"}]}])
        raise AssertionError("no BadRequestError for an image sent to a text-only model")
    except anthropic.BadRequestError as error:
        expect("claude-cheap" in error.message and "image" in error.message, error.message)
        # An error names its request too, in each SDK's own way.
        expect(error.request_id and error.request_id == error.response.headers.get("x-request-id"), error.response.headers)
    try:
        oai.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
        raise AssertionError("no NotFoundError for an unknown model")
    except openai.NotFoundError as error:
        expect(error.body["code"] == "model_not_found", error.body)
        expect(error.request_id, error.response.headers)


def models():
    ids = [model.id for model in oai.models.list()]
    expect(ids[:2] == ["auto", "fleet/general"] and "fleet/coder" in ids and "claude-cheap" in ids and "vision" in ids, ids)
    ids = [model.id for model in ant.models.list()]
    expect("auto" in ids and "gpt-strong" in ids, ids)
    count = ant.messages.count_tokens(model="auto", messages=[{"role": "user", "content": "Hello there, how are you?"}])
    expect(count.input_tokens > 0, count)


def retrieve_and_unknown_routes():
    """`models.retrieve` in both SDKs, a route fleetd does not serve as each SDK's NotFoundError
    with a message saying what to use, and Anthropic's request-level `cache_control`."""
    model = oai.models.retrieve("auto")
    expect(model.id == "auto" and model.object == "model" and model.owned_by == "fleetd", model)
    expect(oai.models.retrieve("fleet/coder").id == "fleet/coder", "fleet/coder")  # sent as fleet%2Fcoder
    expect(oai.models.retrieve("claude-cheap").owned_by == "anthropic", "claude-cheap")
    info = ant.models.retrieve("gpt-strong")
    expect(info.id == "gpt-strong" and info.type == "model" and info.display_name, info)
    for call, error_type in [(lambda: oai.models.retrieve("no-such-model"), openai.NotFoundError),
                             (lambda: ant.models.retrieve("no-such-model"), anthropic.NotFoundError)]:
        try:
            call()
            raise AssertionError("no NotFoundError for an unknown model")
        except error_type as error:
            expect("no-such-model" in str(error.body), error.body)
    unknown = [
        (lambda: oai.embeddings.create(model="auto", input="hi"), "/v1/embeddings", "use /v1/chat/completions"),
        (lambda: oai.completions.create(model="auto", prompt="hi"), "/v1/completions", "use /v1/chat/completions"),
    ]
    for call, path, advice in unknown:
        try:
            call()
            raise AssertionError("no NotFoundError for " + path)
        except openai.NotFoundError as error:
            expect(error.body["type"] == "invalid_request_error" and error.body["code"] == "not_found", error.body)
            expect(error.body["message"].startswith(path + " is not served by fleetd") and advice in error.body["message"], error.body)
    # Anthropic's SDKs add /v1 themselves: a base URL ending in /v1 asks for /v1/v1/messages.
    doubled = anthropic.Anthropic(base_url=URL + "/v1", api_key="sk-fleetd-test", max_retries=0, timeout=30)
    try:
        doubled.messages.create(model="auto", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
        raise AssertionError("no NotFoundError for /v1/v1/messages")
    except anthropic.NotFoundError as error:
        # Anthropic's SDK keeps the whole body: {"type": "error", "error": {"type", "message"}}.
        detail = error.body["error"]
        expect(error.body["type"] == "error" and detail["type"] == "not_found_error", error.body)
        expect("/v1/v1/messages" in detail["message"] and "use /v1/messages" in detail["message"], error.body)
    # The request-level cache_control (automatic caching) and a system block's breakpoint, as
    # coding agents send them, are relayed to the Anthropic model.
    message = ant.messages.create(model="claude-cheap", max_tokens=64, cache_control={"type": "ephemeral"},
                                  system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
                                  messages=[{"role": "user", "content": SIMPLE}])
    expect(message.content[0].text == ANTHROPIC_JSON_TEXT, message)


WEATHER_TOOL_RESPONSES = {"type": "function", "name": "get_weather", "description": "The weather in a city",
                          "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}


def responses():
    """OpenAI's Responses API through the SDK's own helpers: text, its stream (the SDK's stream
    state checks each event's place), a function call round trip with the output items sent back
    as input (as the Agents SDK does), structured output, reasoning, and its errors."""
    raw = oai.responses.with_raw_response.create(model="auto", input=SIMPLE, instructions="Be brief.", metadata={"run": "r-1"})
    response = raw.parse()
    expect(response.output_text == ANTHROPIC_JSON_TEXT and response.status == "completed", response)
    expect(response.id.startswith("resp_") and response.object == "response" and response.model == "claude-cheap", response)
    expect(response.usage.input_tokens == 2095 and response.usage.output_tokens == 503 and response.usage.total_tokens == 2598,
           response.usage)
    expect(response.instructions == "Be brief." and response.metadata == {"run": "r-1"} and response.store is True, response)
    expect(raw.headers["x-fleetd-provider"] == "anthropic" and raw.headers["x-fleetd-task-id"].startswith("task-"), raw.headers)
    with oai.responses.stream(model="auto", input=[{"role": "user", "content": SIMPLE}]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    expect(deltas == ANTHROPIC_STREAM_TEXT and final.output_text == ANTHROPIC_STREAM_TEXT, final)
    expect(events[0].type == "response.created" and events[-1].type == "response.completed", [event.type for event in events])
    expect([event.sequence_number for event in events] == list(range(len(events))), "sequence numbers")
    expect(final.usage.input_tokens == 11 and final.usage.output_tokens == 6, final.usage)

    # A function call, streamed, then its output sent back with the whole conversation.
    conversation = [{"role": "user", "content": "What is the weather in Paris?"}]
    completed = None
    for event in oai.responses.create(model="claude-cheap", input=conversation, tools=[WEATHER_TOOL_RESPONSES], stream=True):
        if event.type == "response.completed":
            completed = event.response
    calls = [item for item in completed.output if item.type == "function_call"]
    expect(completed.output_text == "I'll check the current weather in Paris for you.", completed)
    expect(len(calls) == 1 and calls[0].call_id == "toolu_01NRLabsLyVHZPKxbKvkfSMn" and calls[0].name == "get_weather", calls)
    expect(json.loads(calls[0].arguments) == {"location": "Paris"}, calls)
    conversation += [item.model_dump(exclude_unset=True) for item in completed.output]
    conversation.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": "18 degrees, light rain"})
    answer = oai.responses.create(model="claude-cheap", input=conversation, tools=[WEATHER_TOOL_RESPONSES])
    expect(answer.output_text == ANTHROPIC_JSON_TEXT, answer)
    # Parallel calls replayed to an OpenAI-format model: one assistant message with both calls.
    replay = [{"role": "user", "content": "Weather in Paris and Rome?"},
              {"type": "function_call", "call_id": "call_p", "name": "get_weather", "arguments": '{"location": "Paris"}'},
              {"type": "function_call", "call_id": "call_r", "name": "get_weather", "arguments": '{"location": "Rome"}'},
              {"type": "function_call_output", "call_id": "call_p", "output": "18 degrees"},
              {"type": "function_call_output", "call_id": "call_r", "output": "21 degrees"}]
    answer = oai.responses.create(model="gpt-strong", input=replay, tools=[WEATHER_TOOL_RESPONSES])
    expect(answer.output_text == OPENAI_JSON_TEXT and answer.model == "gpt-strong", answer)

    # A conversation the server keeps: the second turn names the first by previous_response_id;
    # a response made with store: false, or another tenant's, cannot be continued.
    first = oai.responses.create(model="claude-cheap", input="Name a colour.")
    expect(first.store is True, first)
    second = oai.responses.create(model="claude-cheap", input="Another one?", previous_response_id=first.id)
    expect(second.previous_response_id == first.id and second.output_text == ANTHROPIC_JSON_TEXT, second)
    # Continued after a stream: the streamed tool call's output, by the response's id alone.
    answer = oai.responses.create(model="claude-cheap", previous_response_id=completed.id, tools=[WEATHER_TOOL_RESPONSES],
                                  input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "18 degrees"}])
    expect(answer.output_text == ANTHROPIC_JSON_TEXT, answer)
    unkept = oai.responses.create(model="claude-cheap", input="Name a colour.", store=False)
    other = openai.OpenAI(base_url=URL + "/v1", api_key="sk-fleetd-test", max_retries=0, timeout=30,
                          default_headers={"x-fleetd-tenant": "someone-else"})
    for client, previous in [(oai, unkept.id), (other, first.id)]:
        try:
            client.responses.create(model="claude-cheap", input="Another one?", previous_response_id=previous)
            raise AssertionError("no BadRequestError continuing " + previous)
        except openai.BadRequestError as error:
            expect(error.body["param"] == "previous_response_id" and "no such response" in error.body["message"], error.body)

    # Structured output: parse() against a Claude model.
    email = [{"role": "user", "content": "Extract the key information from this email: John Smith (john@example.com) is "
                                         "interested in our Enterprise plan and wants to schedule a demo for next Tuesday at 2pm."}]
    parsed = oai.responses.parse(model="claude-cheap", input=email, text_format=Contact)
    expect(parsed.output_parsed == Contact(name="John Smith", email="john@example.com", plan_interest="Enterprise",
                                           demo_requested=True), parsed)

    # Reasoning: a Claude model's thinking as a reasoning item before the message, streamed and not.
    question = [{"role": "user", "content": "How do I cross the street?"}]
    thought = recorded_blocks("anthropic-stream-thinking-recorded.sse")[0]["thinking"]
    said = recorded_blocks("anthropic-stream-thinking-recorded.sse")[1]["text"]
    with oai.responses.stream(model="claude-cheap", input=question, reasoning={"effort": "low"}) as stream:
        events = list(stream)
        final = stream.get_final_response()
    expect([item.type for item in final.output] == ["reasoning", "message"], final.output)
    expect(final.output[0].content[0].text == thought and final.output_text == said, final)
    thinking = "".join(event.delta for event in events if event.type == "response.reasoning_text.delta")
    expect(thinking == thought, thinking)
    whole = oai.responses.create(model="claude-cheap", input=question, reasoning={"effort": "low"})
    expect(whole.output[0].type == "reasoning" and whole.output[0].content[0].text, whole.output)

    # What fleetd cannot do is the SDK's BadRequestError naming the parameter; a kept response's
    # routes are its NotFoundError saying why.
    cases = [
        (lambda: oai.responses.create(model="auto", input="hi", previous_response_id="resp_123"), "previous_response_id"),
        (lambda: oai.responses.create(model="auto", input="hi", tools=[{"type": "web_search"}]), "tools[0].type"),
        (lambda: oai.responses.create(model="auto", input=[{"type": "item_reference", "id": "msg_1"}]), "input[0].type"),
        (lambda: oai.responses.create(model="auto", input="hi", temperature=3), "temperature"),
    ]
    for call, param in cases:
        try:
            call()
            raise AssertionError("no BadRequestError for " + param)
        except openai.BadRequestError as error:
            expect(error.body["param"] == param and error.body["type"] == "invalid_request_error", error.body)
    try:
        oai.responses.retrieve("resp_123")
        raise AssertionError("no NotFoundError for a kept response")
    except openai.NotFoundError as error:
        expect("only to be continued" in error.body["message"], error.body)


CHECKS = {name: function for name, function in globals().items()
          if callable(function) and name in {
              "openai_text", "openai_stream", "anthropic_text", "anthropic_stream", "multi_turn", "openai_tools",
              "anthropic_tools", "image", "auto_routing", "rate_limit", "budget", "stream_flag_off", "bad_request", "models",
              "retrieve_and_unknown_routes", "anthropic_thinking", "openai_reasoning", "claude_code_shapes", "anthropic_documents",
              "structured_outputs", "responses"}}

if __name__ == "__main__":
    name = sys.argv[1]
    CHECKS[name](*sys.argv[2:])
    print("ok " + " ".join(sys.argv[1:]))
