"""Benchmark: the gcp handler vs google-cloud-logging's own CloudLoggingHandler (BackgroundThreadTransport).

Run standalone: ``python benchmarks/network_gcp.py [N [REPEATS]]`` (default: N=5,000, within micktrace's default
dispatch queue, and N=50,000, past it, 3 runs each). Starts the test suite's loopback emulator of the Cloud
Logging API (tests/support/gcp_logging.py: it checks the bearer token, parses and validates every entry and
keeps it) in a process of its own, and measures for each side (a) the caller's cost per record (N log calls in
the application thread, before any flush) and (b) records per second delivered (from the first call until the
emulator holds all N, both sides flushing once at the end). Writes benchmarks/results/gcp.md.

The alternative is Google's documented way to send stdlib logging to Cloud Logging:
``google.cloud.logging.handlers.CloudLoggingHandler`` with its default ``BackgroundThreadTransport`` (a queue
and a worker thread writing batches through ``entries.write``), on a ``Client`` using the REST transport
(``_use_grpc=False``: the emulator speaks REST), with structured fields through ``extra={"json_fields": ...}``.
Both sides use the same static-token google-auth credentials and the ``global`` resource.
"""

from __future__ import annotations

import http.client
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "src"), str(ROOT / "tests")]

import network_datadog  # noqa: E402
from network_datadog import (  # noqa: E402
    DEFAULT_QUEUE,
    FIELDS,
    Result,
    measure_micktrace,
    median_of,
    sized_table,
    sizes,
    table,
    wait_for,
)

import support.loopback_only as guard  # noqa: E402  (nothing here may leave the machine)

PROJECT = "test-project"
NOTES = """
Caller: N log calls in the application thread, before any flush. Delivered: N records from the first call
until the emulator holds all N, one flush at the end on both sides. The emulator (tests/support/gcp_logging.py)
runs in a process of its own on 127.0.0.1 and answers as the documented API does (bearer token, JSON shape,
per-entry checks, limits); it parses and checks every entry, in Python, for both sides. 2 cores, shared with
other work (load average about 11 during the recorded runs): medians of alternating runs; read the ratios.

N=5,000 fits micktrace's default dispatch queue (10,000 records): the caller only enqueues. Past it the queue
is full and the default `overflow="block"` makes the caller wait for room, so its cost becomes the whole
pipeline's per-record CPU (masking, encoding, the engine; one GIL, on a loaded machine): the sustained caller
figure is the delivery pace, not an enqueue. CloudLoggingHandler's transport queue is unbounded, so its caller
never waits, and its backlog grows without limit instead (and what is still queued after the transport's
5 s grace period at exit is lost).
"""


class Emulator(network_datadog.Emulator):
    """tests/support/gcp_logging.py in a process of its own: ``url``, ``token`` and (inherited) ``count()``."""

    def __init__(self) -> None:  # not the parent's: another emulator, plain HTTP
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT / "src")])}
        self.proc = subprocess.Popen([sys.executable, "-m", "support.gcp_logging"], cwd=ROOT / "tests",
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
        assert self.proc.stdout is not None
        self.url, self.token = (self.proc.stdout.readline().strip() for _ in range(2))
        if not self.token:
            raise RuntimeError("the emulator did not start")
        self._conn = http.client.HTTPConnection("127.0.0.1", int(self.url.rsplit(":", 1)[1]))


def measure_google(api: Emulator, n: int) -> Result:
    from google.cloud import logging as cloud_logging
    from google.cloud.logging.handlers import CloudLoggingHandler
    from google.oauth2.credentials import Credentials

    client = cloud_logging.Client(project=PROJECT, credentials=Credentials(token=api.token), _use_grpc=False,
                                  client_options={"api_endpoint": api.url})  # fmt: skip
    resource = cloud_logging.Resource(type="global", labels={"project_id": PROJECT})  # no metadata-server probe
    handler = CloudLoggingHandler(client, name="bench", resource=resource)
    log = logging.getLogger("bench.google")
    log.propagate = False
    log.handlers = [handler]
    log.setLevel(logging.INFO)
    start = time.perf_counter()
    for i in range(n):
        log.info("order placed", extra={"json_fields": {"seq": i, **FIELDS}})
    caller = time.perf_counter() - start
    handler.flush()  # the transport's worker drains its queue
    wait_for(api.count, n)
    total = time.perf_counter() - start
    handler.close()
    log.handlers = []
    return caller / n, n / total


def main() -> None:
    from google.oauth2.credentials import Credentials

    counts, repeats = sizes()
    texts = []
    for n in counts:
        mine: List[Result] = []
        theirs: List[Result] = []
        sized: List[Result] = []
        for _ in range(repeats):  # alternating, each against a fresh emulator
            for queue_size, into in ((0, mine), (n, sized)) if n > DEFAULT_QUEUE else ((0, mine),):
                api = Emulator()
                spec: Dict[str, Any] = {"type": "gcp", "project_id": PROJECT, "endpoint": api.url,
                                        "credentials": Credentials(token=api.token)}  # fmt: skip
                try:
                    into.append(measure_micktrace(spec, api.count, n, queue_size))
                finally:
                    api.close()
            api = Emulator()
            try:
                theirs.append(measure_google(api, n))
            finally:
                api.close()
        results: Dict[str, Tuple[float, float]] = {
            "micktrace gcp": median_of(mine),
            "google-cloud-logging CloudLoggingHandler (BackgroundThreadTransport)": median_of(theirs),
        }
        title = f"## gcp (N={n:,}, median of {repeats} runs, loopback emulator of the Cloud Logging API, REST)"
        texts.append(table(title, results, "CloudLoggingHandler"))
        if sized:
            texts.append(sized_table(title, "micktrace gcp", sized, results, "CloudLoggingHandler"))
        print("\n".join(texts[-2:]))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    alternative = (
        "\nThe alternative: google-cloud-logging's `CloudLoggingHandler` with its default "
        "`BackgroundThreadTransport` (batches of 10), on a REST `Client`, fields as `json_fields`.\n"
    )
    (out / "gcp.md").write_text("\n".join(texts) + alternative + NOTES)
    assert not guard.blocked, f"tried to leave the machine: {guard.blocked}"


if __name__ == "__main__":
    main()
