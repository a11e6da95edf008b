"""What idle HTTP sessions (MCP 2025-11-25) cost pier's memory, with quiet sessions put
away (server.session-hibernate-ms) and without.

Usage: python3 bench/idle_sessions.py [PIER_BINARY]   (default target/perf/pier)

Starts pier twice on a free loopback port, serving the example plugins: once with
hibernation off, once putting sessions away after 3 s. Each time it opens WAVES waves of
SESSIONS sessions (`initialize` and `initialized`, then nothing), pausing 8 s after
each, and reads pier's resident memory. At the end a sample of the sessions is called
again: they all answer. Writes bench/results/idle-sessions.md.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SESSIONS = 3000
WAVES = 3
PAUSE = 8.0
HIBERNATE_MS = 3000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
INIT = json.dumps({
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "idle", "version": "0"}},
})


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_session(sid):
    headers = dict(HEADERS)
    headers["mcp-session-id"] = sid
    headers["mcp-protocol-version"] = "2025-11-25"
    return headers


def run(pier, hibernate_ms):
    work = tempfile.mkdtemp(prefix="pier-idle-")
    try:
        os.mkdir(os.path.join(work, "plugins.d"))
        for name in ("hello", "calc"):
            shutil.copy(os.path.join(ROOT, "plugins.d", f"{name}.wasm"), os.path.join(work, "plugins.d"))
        port = free_port()
        env = dict(os.environ,
                   PIER_SERVER_LISTEN=f"127.0.0.1:{port}",
                   PIER_SERVER_SESSION_HIBERNATE_MS=str(hibernate_ms),
                   PIER_SERVER_MAX_SESSIONS_PER_CLIENT=str(SESSIONS * WAVES))
        child = subprocess.Popen([pier, "serve"], cwd=work, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    c.request("GET", "/ready")
                    if c.getresponse().status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            else:
                raise RuntimeError("pier was not ready within 60 s")
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            rows = [("before", 0, rss_mib(child.pid))]
            ids = []
            for _ in range(WAVES):
                for _ in range(SESSIONS):
                    c.request("POST", "/mcp", INIT, HEADERS)
                    r = c.getresponse()
                    sid = r.getheader("mcp-session-id")
                    r.read()
                    c.request("POST", "/mcp", '{"jsonrpc":"2.0","method":"notifications/initialized"}', in_session(sid))
                    c.getresponse().read()
                    ids.append(sid)
                rows.append(("opened", len(ids), rss_mib(child.pid)))
                time.sleep(PAUSE)
                rows.append((f"{PAUSE:.0f} s later", len(ids), rss_mib(child.pid)))
            answered = 0
            sample = ids[:: max(1, len(ids) // 20)]
            for sid in sample:
                c.request("POST", "/mcp", '{"jsonrpc":"2.0","id":2,"method":"tools/list"}', in_session(sid))
                r = c.getresponse()
                answered += r.status == 200 and b'"tools"' in r.read()
            return rows, f"{answered}/{len(sample)}"
        finally:
            child.terminate()
            child.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    pier = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/perf/pier")
    off, off_answered = run(pier, 0)
    on, on_answered = run(pier, HIBERNATE_MS)
    lines = [
        "# Idle sessions",
        "",
        f"`python3 bench/idle_sessions.py` (`{os.path.relpath(pier, ROOT)}`): {WAVES} waves of "
        f"{SESSIONS} MCP 2025-11-25 sessions opened and left idle (`initialize`, `initialized`, "
        f"then nothing), {PAUSE:.0f} s apart; pier's resident memory (MiB) with hibernation off, "
        f"and with sessions put away after {HIBERNATE_MS // 1000} s "
        "(`server.session-hibernate-ms`; the default is 60 s). Freed memory stays with the "
        "allocator for pier to reuse, so resident memory shows the sessions awake at once, "
        "not the sessions put away.",
        "",
        "| | sessions | hibernation off | sessions put away |",
        "|---|---:|---:|---:|",
    ]
    for (what, n, a), (_, _, b) in zip(off, on):
        lines.append(f"| {what} | {n} | {a:.1f} | {b:.1f} |")
    lines += ["", f"Sessions sampled at the end that answered `tools/list`: {off_answered} "
              f"(off), {on_answered} (put away, each brought back by its request).", ""]
    out = os.path.join(ROOT, "bench/results/idle-sessions.md")
    with open(out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
