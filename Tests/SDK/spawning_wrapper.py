"""Starts a tool server the way `npx` starts a `node` one, for fleetd's tool-server lifetime tests
(Tests/FleetdTests/MCP/MCPAgentToolsTests+Lifetime.swift): the command in its arguments runs as its
child, with its standard input and output, and it waits for that child. It passes on no signal: a
wrapper ended by a signal leaves its child running, unless the signal reaches the child's process
group. The child's pid is written to the file named by `CHILD_PID_FILE` (when set).

Run: python spawning_wrapper.py COMMAND [ARG...]
"""
import os
import subprocess
import sys

child = subprocess.Popen(sys.argv[1:])
path = os.environ.get("CHILD_PID_FILE")
if path:
    with open(path + ".part", "w", encoding="utf-8") as handle:
        handle.write(str(child.pid))
    os.replace(path + ".part", path)
sys.exit(child.wait())
