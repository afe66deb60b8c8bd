"""Benchmark: the newrelic handler vs a stdlib logging handler posting to the Log API with requests.

Run standalone: ``python benchmarks/network_newrelic.py [N [REPEATS]]`` (the same sizes as
network_datadog.py). Starts the test suite's loopback HTTPS
emulator of the New Relic Log API in a process of its own (tests/support/intakes.py) and measures, as
network_datadog.py does, (a) the caller's cost per record and (b) records per second delivered. Writes
benchmarks/results/newrelic.md.

The alternative: New Relic's ``newrelic`` package is an APM agent; it forwards logs only from inside an
instrumented application and has no standalone log client to call. So the alternative is what the Log
API documentation describes, done the usual Python way: a stdlib ``QueueHandler``/``QueueListener``
(the caller never waits on the network), batching 100 records per POST of the detailed JSON format,
gzipped, through one ``requests.Session`` (kept-alive connections), with the license key header.
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from network_datadog import (
    DEFAULT_QUEUE,
    NOTES,
    ROOT,
    Emulator,
    Result,
    measure_micktrace,
    measure_stdlib,
    median_of,
    sized_table,
    sizes,
    table,
)


def requests_post(intake: Emulator) -> Tuple[Callable[[List[logging.LogRecord]], None], object]:
    import requests

    session = requests.Session()
    session.headers.update(
        {"X-License-Key": intake.key, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    common = {"attributes": {"service.name": "bench", "entity.name": "bench", "hostname": socket.gethostname()}}

    def post(records: List[logging.LogRecord]) -> None:
        logs = [
            {"timestamp": int(r.created * 1000), "message": r.getMessage(), "level": r.levelname,
             "attributes": {"logger.name": r.name, "environment": "bench", "seq": r.seq, "user": r.user,  # type: ignore[attr-defined]
                            "amount": r.amount, "currency": r.currency}}  # type: ignore[attr-defined]
            for r in records
        ]  # fmt: skip
        body = gzip.compress(json.dumps([{"common": common, "logs": logs}]).encode())
        # verify per request: a REQUESTS_CA_BUNDLE in the environment would override session.verify
        session.post(intake.url, data=body, timeout=10, verify=intake.ca_certs).raise_for_status()

    return post, session


def main() -> None:
    counts, repeats = sizes()
    texts = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            mine: List[Result] = []
            theirs: List[Result] = []
            sized: List[Result] = []
            for _ in range(repeats):  # alternating, each against a fresh emulator
                for queue_size, into in ((0, mine), (n, sized)) if n > DEFAULT_QUEUE else ((0, mine),):
                    intake = Emulator("newrelic", tmp)
                    spec = {"type": "newrelic", "license_key": intake.key, "endpoint": intake.url,
                            "ca_certs": intake.ca_certs}  # fmt: skip
                    try:
                        into.append(measure_micktrace(spec, intake.count, n, queue_size))
                    finally:
                        intake.close()
                intake = Emulator("newrelic", tmp)
                post, session = requests_post(intake)
                try:
                    theirs.append(measure_stdlib(post, intake.count, n))
                finally:
                    session.close()  # type: ignore[attr-defined]
                    intake.close()
            results: Dict[str, Result] = {"micktrace newrelic": median_of(mine)}
            results["stdlib QueueHandler + requests to the Log API"] = median_of(theirs)
            title = f"## newrelic (N={n:,}, median of {repeats} runs, loopback HTTPS emulator of the Log API, gzip)"
            texts.append(table(title, results, "requests"))
            if sized:
                texts.append(sized_table(title, "micktrace newrelic", sized, results, "requests"))
            print("\n".join(texts[-2:]))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    alternative = ("\nThe alternative: the `newrelic` package is an APM agent with no standalone log client, so a "
                   "stdlib `QueueHandler`/`QueueListener` posting the Log API's detailed format, gzipped, with one "
                   "`requests.Session`, 100 records per POST.\n")  # fmt: skip
    (out / "newrelic.md").write_text("\n".join(texts) + alternative + NOTES)


if __name__ == "__main__":
    main()
