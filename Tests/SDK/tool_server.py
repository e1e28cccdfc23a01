"""A small MCP tool server for fleetd's agent-tools tests (Tests/FleetdTests/MCP/MCPAgentToolsTests.swift).

Built on the official `mcp` Python SDK (2.x: MCPServer, which 1.x called FastMCP). Its one tool, `get_weather`, answers from a
fixed table so the tests can check what reached the model. `WEATHER_MODE` makes it misbehave:
`hang` never answers, `slow` answers after 4 seconds, `crash` ends the process during the call,
`big` answers 100 KB, `mute` closes its standard output during the call and stays (a server
whose output died, or one that daemonized: fleetd reads the end of its output and nothing else), `grow` answers and, on its first call, adds a second tool, `weather.forecast`,
and sends `notifications/tools/list_changed` (it declares `tools.listChanged`). With `LINGER` set,
the stdio server stays after its standard input closed (as a server that does not notice would):
only a signal ends it. Every
call is appended, as one JSON line, to the file named by `TOOL_LOG` (when set), with the names
(not the values) of the server's environment variables.

Run: python tool_server.py            (stdio)
     python tool_server.py http PORT  (Streamable HTTP at http://127.0.0.1:PORT/mcp)
"""
import json
import os
import sys
import time

from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("fleetd-test-tools")

WEATHER = {"paris": "Paris: 18°C, light rain", "new york city": "New York City: 24°C, clear"}


def log(entry):
    path = os.environ.get("TOOL_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


# The pipe standard output was at start: the SDK moves it to another descriptor (and points 1 at
# standard error), so `mute` closes every descriptor on it.
_PROTOCOL_OUTPUT = os.fstat(1)


def close_protocol_output():
    for name in os.listdir("/proc/self/fd"):
        try:
            status = os.fstat(int(name))
        except OSError:
            continue
        if (status.st_dev, status.st_ino) == (_PROTOCOL_OUTPUT.st_dev, _PROTOCOL_OUTPUT.st_ino):
            os.close(int(name))


def get_weather(location: str = "", city: str = "") -> str:
    """The current weather for a place (give location or city)."""
    place = location or city
    mode = os.environ.get("WEATHER_MODE", "ok")
    log({"tool": "get_weather", "place": place, "mode": mode, "pid": os.getpid(), "env": sorted(os.environ)})
    if mode == "hang":
        time.sleep(3600)
    if mode == "slow":
        time.sleep(4)
    if mode == "crash":
        os._exit(3)
    if mode == "mute":
        close_protocol_output()
        time.sleep(3600)
    if mode == "big":
        return "x" * 100_000
    return WEATHER.get(place.lower(), f"{place}: no data")


def get_forecast(location: str = "", days: int = 3) -> str:
    """The forecast for a place over the next days."""
    log({"tool": "weather.forecast", "place": location, "pid": os.getpid()})
    return f"{location}: {days} days of sun"


grown = False


async def get_weather_and_grow(ctx: Context, location: str = "", city: str = "") -> str:
    """The current weather for a place (give location or city)."""
    global grown
    answer = get_weather(location, city)
    if not grown:
        grown = True
        server.add_tool(get_forecast, name="weather.forecast")
        await ctx.session.send_tool_list_changed()
    return answer


if os.environ.get("WEATHER_MODE") == "grow":
    server.add_tool(get_weather_and_grow, name="get_weather")
    # Declares `tools.listChanged: true`, as a server that sends the notification should.
    _initialization_options = server._lowlevel_server.create_initialization_options

    def _with_tools_changed(notification_options=None, *args, **kwargs):
        return _initialization_options(NotificationOptions(tools_changed=True), *args, **kwargs)

    server._lowlevel_server.create_initialization_options = _with_tools_changed
else:
    server.add_tool(get_weather)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        server.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        # A line on standard error, where MCP servers log: fleetd puts it in its own log.
        print(f"fleetd-test-tools: serving over stdio, pid {os.getpid()}", file=sys.stderr, flush=True)
        try:
            server.run()
        finally:
            if os.environ.get("LINGER"):
                time.sleep(3600)
