"""Checks the official `mcp` Python SDK against fleetd's MCP server.

Run by Tests/FleetdTests/MCP/MCPSDKTests.swift:

    python mcp_checks.py stdio FLEETD CONFIG DATA_DIR   # launches `fleetd mcp` as a subprocess
    python mcp_checks.py http URL                      # Streamable HTTP at URL (…/mcp)

fleetd's one model is a fake OpenAI-format provider: a prompt containing HOLDME gets one chunk and
then nothing until the test ends (a task to cancel); every other prompt gets ten "token " chunks.
The check raises at the first thing that is not as it should be (exit status 1, the traceback on
stderr); on success it prints `ok MODE` and exits 0.
"""

import os
import sys
import time

import anyio
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

EXPECTED_TOOLS = {"run_task", "route", "costs", "models", "flags", "agent_general", "agent_coder"}
ANSWER = "token " * 10


def client() -> Client:
    if sys.argv[1] == "stdio":
        fleetd, config, data = sys.argv[2:5]
        return Client(StdioServerParameters(command=fleetd, args=["mcp", "--config", config, "--data-dir", data],
                                             env=dict(os.environ)),
                      read_timeout_seconds=30)
    return Client(sys.argv[2], read_timeout_seconds=30)


async def expect_error(c: Client, tool: str, arguments: dict, needle: str) -> None:
    try:
        result = await c.call_tool(tool, arguments)
    except MCPError as error:
        assert needle in str(error), f"{tool} {arguments}: the error should name {needle!r}: {error}"
        return
    raise AssertionError(f"{tool} {arguments}: expected an MCP error naming {needle!r}, got {result}")


async def main() -> None:
    async with client() as c:
        # Tools, with precise schemas.
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert EXPECTED_TOOLS <= set(tools), f"tools: {sorted(tools)}"
        schema = tools["run_task"].input_schema
        assert schema["required"] == ["prompt"] and schema["additionalProperties"] is False, schema
        assert "math" in schema["properties"]["type"]["enum"], schema
        assert set(schema["properties"]["agentType"]["enum"]) == {"general", "coder"}, schema

        # run_task: the answer, and a progress notification per chunk carrying its text.
        progress: list[tuple[float, str | None]] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append((value, message))

        result = await c.call_tool("run_task", {"prompt": "Say ten tokens.", "id": "mcp-1"}, progress_callback=on_progress)
        assert not result.is_error, result
        assert result.content[0].text == ANSWER, result.content
        structured = result.structured_content
        assert structured["model"] == "fast" and structured["status"] == "completed", structured
        assert structured["usage"]["outputTokens"] == 10 and structured["cost"] > 0, structured
        assert len(progress) >= 2, f"one progress notification per chunk, got {progress}"
        assert "".join(m or "" for _, m in progress) == ANSWER, progress
        assert [v for v, _ in progress] == sorted(v for v, _ in progress), "progress must increase"

        # An agent type's own tool.
        result = await c.call_tool("agent_coder", {"prompt": "Write a function that adds two numbers."})
        assert not result.is_error and result.structured_content["agentId"].startswith("coder"), result

        # route and costs.
        route = await c.call_tool("route", {"prompt": "Prove Fermat's little theorem", "type": "math"})
        assert not route.is_error and route.structured_content["modelName"] == "fast", route
        assert "Candidates:" in route.content[0].text, route.content[0].text
        costs = await c.call_tool("costs", {"period": "day"})
        report = costs.structured_content["report"]
        assert report["total"]["entries"] >= 2 and report["total"]["cost"] > 0, report
        models = await c.call_tool("models", {})
        assert models.structured_content["models"][0]["status"]["name"] == "fast", models.structured_content

        # Bad arguments are MCP errors that name the argument.
        await expect_error(c, "run_task", {"prompt": "x", "type": "poetry"}, "argument 'type'")
        await expect_error(c, "run_task", {"type": "math"}, "argument 'prompt'")
        await expect_error(c, "run_task", {"prompt": "x", "colour": "blue"}, "argument 'colour'")
        await expect_error(c, "run_task", {"prompt": "x", "maxTokens": 0}, "argument 'maxTokens'")
        await expect_error(c, "costs", {"period": "year"}, "argument 'period'")
        await expect_error(c, "flags", {"name": "streaming", "enabled": False}, "argument 'adminToken'")
        await expect_error(c, "flags", {"name": "streaming", "enabled": False, "adminToken": "wrong"}, "argument 'adminToken'")
        flags = await c.call_tool("flags", {})
        assert flags.structured_content["flags"]["streaming"]["enabled"] is True, flags.structured_content
        changed = await c.call_tool("flags", {"name": "advancedCaching", "enabled": True, "adminToken": "mcp-admin"})
        assert changed.structured_content["flags"]["advancedCaching"]["enabled"] is True, changed.structured_content
        # A rollout grown from the tool keeps the stickiness and group id in force (no re-bucketing).
        grown = await c.call_tool("flags", {"name": "predictiveRouting", "enabled": True, "rollout": {"percentage": 60}, "adminToken": "mcp-admin"})
        rollout = grown.structured_content["global"]["predictiveRouting"]["rollout"]
        assert rollout == {"percentage": 60, "stickiness": "tenantId", "groupId": "learn"}, rollout

        # Resources: the running config (secrets redacted) and the cost report.
        uris = {r.uri for r in (await c.list_resources()).resources}
        assert {"fleetd://config", "fleetd://costs/day"} <= {str(u) for u in uris}, uris
        config = (await c.read_resource("fleetd://config")).contents[0].text
        assert '"fleet"' in config and "sk-" not in config, config[:200]

        # Cancelling a running task stops it: the one general agent is free again at once.
        first_chunk = anyio.Event()

        async def on_held(value: float, total: float | None, message: str | None) -> None:
            first_chunk.set()

        async def held() -> None:
            await c.call_tool("run_task", {"prompt": "HOLDME and wait", "id": "mcp-cancel"}, progress_callback=on_held)

        async with anyio.create_task_group() as group:
            group.start_soon(held)
            with anyio.fail_after(20):
                await first_chunk.wait()
            group.cancel_scope.cancel()
        started = time.monotonic()
        with anyio.fail_after(20):
            after = await c.call_tool("run_task", {"prompt": "Say ten tokens.", "id": "mcp-after"})
        assert not after.is_error and after.content[0].text == ANSWER, after
        print(f"next task after the cancel took {time.monotonic() - started:.2f} s", file=sys.stderr)
    print(f"ok {sys.argv[1]}")


anyio.run(main)
