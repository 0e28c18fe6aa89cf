"""Load on `digits serve` over loopback: requests/s, latency, errors and the server's memory.

    python -m benchmarks.serve_load [--duration 30] [--clients 16 64] [--workers N] [--model PATH]

Starts `digits serve` in a subprocess on 127.0.0.1. First the memory check: 16 clients send single digits
and numbers in turn (a steady mixed load) until 10,000 reads (for at most --top-up seconds), and the
server's RSS (/proc/<pid>/status, summed over its worker processes) is read before any request, after the
first 1,000 reads and after 10,000. Then the timed runs: for each number of concurrent clients (16 and 64),
single-digit pictures for `--duration` seconds, then pictures of numbers; last, GET /healthz (the HTTP stack
alone, for scale). The pictures are realistic synthetic photos of MNIST *test* digits (`data.synth`),
PNG-encoded, sent as raw `image/png` bodies on keep-alive connections by a minimal asyncio HTTP/1.1
client (so the load generator itself costs little CPU: it shares the machine's cores with the server,
which the results must say). Each picture's first answer is kept; a later answer that differs counts as
an error, as does any status other than 200 or a dropped connection.

Each row ends with a speed check: the CPU time of a fixed Python loop just before and after the run, since
the machine's speed can drift during a benchmark (compare runs only at similar checks).

Targets (2 cores): zero errors; >= 300 single-digit reads/s with p99 <= 100 ms at 16 clients; RSS after
10,000 requests within 10% of after 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
MEMORY_MARKS = (1_000, 10_000)
GRACE_S = 10.0  # how long after a run's end its last requests may take (keeps the whole benchmark bounded)


@dataclass
class Payload:
    request: bytes  # the whole HTTP request, ready to write
    answer: bytes | None = None  # the first body the server gave for it


@dataclass
class Tally:
    """Counts shared by all clients; memory is sampled when the total crosses each of `marks`."""

    pid: int
    marks: tuple[int, ...] = MEMORY_MARKS
    total: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    memory: dict[int, int] = field(default_factory=dict)
    error_kinds: dict[str, int] = field(default_factory=dict)
    cut_off: int = 0  # requests still unanswered GRACE_S after their run ended

    def count(self, latency: float | None, error: str | None) -> None:
        self.total += 1
        if error:
            self.errors += 1
            self.error_kinds[error] = self.error_kinds.get(error, 0) + 1
        elif latency is not None:
            self.latencies.append(latency)
        for mark in self.marks:
            if self.total == mark:
                self.memory[mark] = rss_kib(self.pid)


def server_pids(pid: int) -> list[int]:
    """The server process and, with --workers, its worker processes (children, recursively)."""
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pids
    for child in children:
        pids += server_pids(int(child))
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the server (all its processes and threads) has used, from /proc/<pid>/stat."""
    total = 0.0
    for one in server_pids(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_kib(pid: int) -> int:
    """The server's resident set size in KiB (summed over its processes), from /proc/<pid>/status."""
    total = 0
    for one in server_pids(pid):
        try:
            status = Path(f"/proc/{one}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(match.group(1)) if match else 0
    return total


def mnist_dir(given: str | None) -> Path:
    """--data, else $DIGITREADER_DATA, else the shared copy beside the checkout (as the tests find it)."""
    for candidate in (given, os.environ.get("DIGITREADER_DATA"), REPO.parent / "shared" / "data" / "mnist"):
        if candidate and (Path(candidate) / "t10k-labels-idx1-ubyte.gz").exists():
            return Path(candidate)
    sys.exit("serve_load: MNIST test files not found (give --data DIR or set DIGITREADER_DATA)")


def make_payloads(kind: str, n: int, data_dir: Path) -> list[Payload]:
    """`n` PNG pictures (single digits or numbers) as complete POST /v1/read requests."""
    from digitreader.data.synth import make_numbers, make_single_digits

    if kind == "digit":
        samples = make_single_digits(n, seed=7, data_dir=data_dir)
    else:
        samples = make_numbers(n, seed=7, data_dir=data_dir)
    mode = "digit" if kind == "digit" else "number"
    payloads = []
    for sample in samples:
        image = sample.image if sample.image.ndim == 2 else cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR)
        ok, png = cv2.imencode(".png", image)
        assert ok
        body = png.tobytes()
        head = (
            f"POST /v1/read?mode={mode} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: image/png\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        payloads.append(Payload(head.encode() + body))
    return payloads


async def one_client(
    host: str, port: int, payloads: list[Payload], offset: int, until: float, tally: Tally
) -> None:
    """A keep-alive connection sending payloads in turn until `until` (loop time); reconnects after errors."""
    loop = asyncio.get_running_loop()
    i = offset
    reader = writer = None
    while loop.time() < until:
        payload = payloads[i % len(payloads)]
        i += 1
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            start = time.perf_counter()
            writer.write(payload.request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            body = await reader.readexactly(length)
            latency = time.perf_counter() - start
            status = int(head.split(b" ", 2)[1])
            if status != 200:
                tally.count(None, f"HTTP {status}")
            elif payload.answer is not None and body != payload.answer:
                tally.count(None, "answer changed")
            else:
                payload.answer = body
                tally.count(latency, None)
        except (OSError, asyncio.IncompleteReadError, ValueError, AttributeError) as exc:
            tally.count(None, type(exc).__name__)
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def run_load(
    host: str, port: int, payloads: list[Payload], clients: int, seconds: float, tally: Tally
) -> None:
    """`clients` connections for `seconds`; requests unanswered `GRACE_S` later are cut off and counted."""
    until = asyncio.get_running_loop().time() + seconds
    spread = max(1, len(payloads) // clients)
    tasks = [
        asyncio.create_task(one_client(host, port, payloads, c * spread, until, tally))
        for c in range(clients)
    ]
    _, late = await asyncio.wait(tasks, timeout=seconds + GRACE_S)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    tally.cut_off += len(late)


def speed_check() -> float:
    """CPU milliseconds of a fixed pure-Python loop, taken before and after each timed run: this machine
    (a VM on a shared host) was seen to drift by ~2x in speed from one minute to the next, and a run's
    figures only compare with another's at a similar check."""
    start = time.process_time()
    sum(i * i for i in range(2_000_000))
    return (time.process_time() - start) * 1000


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) * 1000 if values else float("nan")


def start_server(
    model: str | None, threads: int | None, workers: int
) -> tuple[subprocess.Popen[str], str, int]:
    cmd = [sys.executable, "-m", "digitreader", "serve", "--host", "127.0.0.1", "--port", "0"]
    cmd += ["--workers", str(workers)]
    if model:
        cmd += ["--model", model]
    # The request log would print a line per request here: thousands a second.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DIGITREADER_REQUEST_LOG": "false"}
    if threads:
        env["DIGITREADER_THREADS"] = str(threads)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://(127\.0\.0\.1):(\d+)/", line)
    if not match:
        proc.kill()
        sys.exit(f"serve_load: the server did not start: {line!r}")
    return proc, match.group(1), int(match.group(2))


def await_workers(host: str, port: int, timeout: float = 60.0) -> None:
    """Wait until the server answers /healthz (workers start after the socket is bound)."""
    import http.client

    deadline = time.monotonic() + timeout
    answered = 0
    while answered < 8 and time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request("GET", "/healthz")
            answered += conn.getresponse().status == 200
            conn.close()
        except OSError:
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.serve_load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per run (default 30)")
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64], help="concurrent clients per run")
    parser.add_argument("--model", help="ONNX model for the server (default: the bundled one)")
    parser.add_argument("--threads", type=int, help="the server's DIGITREADER_THREADS (default: its own)")
    parser.add_argument("--workers", type=int, default=1, help="the server's worker processes (default 1)")
    parser.add_argument(
        "--top-up",
        type=float,
        default=300.0,
        help="at most this many seconds for the 10,000-read memory check (default 300)",
    )
    parser.add_argument("--data", help="MNIST directory (default: $DIGITREADER_DATA or ../shared/data/mnist)")
    parser.add_argument(
        "--pictures", type=int, default=200, help="distinct pictures of each kind (default 200)"
    )
    args = parser.parse_args(argv)

    # `timeout` or a kill sends SIGTERM: exit through `finally`, which stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    data_dir = mnist_dir(args.data)
    payloads = {kind: make_payloads(kind, args.pictures, data_dir) for kind in ("digit", "number")}
    payloads["healthz"] = [Payload(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")]
    proc, host, port = start_server(args.model, args.threads, args.workers)
    if args.workers > 1:
        time.sleep(0.5)
        await_workers(host, port)
    try:
        tally = Tally(pid=proc.pid, marks=())  # the timed reads
        health = Tally(pid=proc.pid, marks=())
        cpus = os.cpu_count()
        print(
            f"server pid {proc.pid} ({args.workers} worker process(es)) on {host}:{port}; {cpus} CPUs,"
            " shared by server and load generator"
        )
        # "check ms": `speed_check` before/after the run (lower is a faster machine).
        # "srv cpu", "gen cpu": CPU ms per request of the server and of this load generator, which a busy
        # machine changes little, so what two idle cores can do is judged even when they are not idle.
        columns: tuple[str, ...] = ("clients", "pictures", "requests", "req/s", "p50 ms", "p99 ms", "errors")
        columns += ("srv cpu", "gen cpu", "rss MiB", "check ms")
        print(" ".join(f"{c:>8}" for c in columns))

        # The memory check first, under a steady mix of both kinds (bounded in time).
        start_rss = rss_kib(proc.pid)
        memory = Tally(pid=proc.pid)
        mixed = [p for pair in zip(payloads["digit"], payloads["number"], strict=True) for p in pair]
        deadline = time.monotonic() + args.top_up
        while memory.total < MEMORY_MARKS[-1] and time.monotonic() < deadline:
            asyncio.run(run_load(host, port, mixed, 16, 5.0, memory))

        def timed(kind: str, clients: int, counts: Tally) -> None:
            before_total, before_errors = counts.total, counts.errors
            counts.latencies = []
            check_before = speed_check()
            start, server_cpu, own_cpu = time.perf_counter(), cpu_seconds(proc.pid), time.process_time()
            asyncio.run(run_load(host, port, payloads[kind], clients, args.duration, counts))
            elapsed = time.perf_counter() - start
            done = max(1, counts.total - before_total)
            server_ms = 1000 * (cpu_seconds(proc.pid) - server_cpu) / done
            own_ms = 1000 * (time.process_time() - own_cpu) / done
            p50, p99 = percentile(counts.latencies, 50), percentile(counts.latencies, 99)
            print(
                f"{clients:>8} {kind:>8} {done:>8} {done / elapsed:>8.0f} {p50:>8.1f} {p99:>8.1f}"
                f" {counts.errors - before_errors:>8} {server_ms:>8.2f} {own_ms:>8.2f}"
                f" {rss_kib(proc.pid) / 1024:>8.1f} {check_before:>4.0f}/{speed_check():<4.0f}",
                flush=True,
            )

        for clients in args.clients:
            for kind in ("digit", "number"):
                timed(kind, clients, tally)
        # Last: the HTTP stack alone, for scale.
        timed("healthz", args.clients[0], health)
        errors = memory.errors + tally.errors + health.errors
        kinds = {**memory.error_kinds, **tally.error_kinds, **health.error_kinds}
        print(f"errors: {errors} {kinds or ''}")
        cut = memory.cut_off + tally.cut_off + health.cut_off
        if cut:
            print(f"requests cut off, still unanswered {GRACE_S:.0f} s after their run ended: {cut}")
        print(f"server RSS before any request: {start_rss / 1024:.1f} MiB")
        for mark in MEMORY_MARKS:
            shown = f"{memory.memory[mark] / 1024:.1f} MiB" if mark in memory.memory else "not reached"
            print(f"server RSS after {mark:>6,} mixed reads: {shown}")
        if all(mark in memory.memory for mark in MEMORY_MARKS):
            first, last = (memory.memory[m] for m in MEMORY_MARKS)
            print(f"memory growth 1,000 -> 10,000 reads: {100 * (last - first) / first:+.1f}%")
        total = memory.total + tally.total + health.total
        print(f"server RSS at the end ({total:,} requests): {rss_kib(proc.pid) / 1024:.1f} MiB")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
