"""micktrace.integrations.prometheus: the collector read through a fresh
CollectorRegistry, and a real Prometheus server (Debian's ``prometheus``,
installed by scripts/test-deps.d/40-prometheus.sh) scraping a test process
and answering PromQL queries with the numbers that process logged."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import micktrace
from conftest import SRC, run_python
from micktrace import _state
from micktrace.handlers.base import Handler
from micktrace.handlers.memory import MemoryHandler
from micktrace.integrations import prometheus as mp

PROMETHEUS = "/usr/bin/prometheus"


def _samples(registry: CollectorRegistry) -> Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


class Broken(Handler):
    def write(self, line: str) -> None:
        raise OSError("disk on fire")


@pytest.fixture
def registry() -> Iterator[CollectorRegistry]:
    reg = CollectorRegistry()
    yield reg
    mp.unregister(reg)


def test_collector_reports_levels_loggers_and_handlers(registry: CollectorRegistry) -> None:
    memory = MemoryHandler(name="mem")
    micktrace.configure(level="DEBUG", handlers=[memory, Broken(name="broken", level=micktrace.LogLevel.ERROR)])
    assert mp.register(registry) is mp.register(registry)  # idempotent: the same collector, no duplicate error
    before = _samples(registry)  # records_total counts since the process started
    for _ in range(3):
        micktrace.get_logger("prom.unit.a").debug("d")
    for _ in range(2):
        micktrace.get_logger("prom.unit.b").warning("w")
    micktrace.get_logger("prom.unit.b").error("e")
    s = _samples(registry)
    for level, count in (("DEBUG", 3), ("WARNING", 2), ("ERROR", 1)):
        key = ("micktrace_records_total", (("level", level),))
        assert s[key] - before.get(key, 0) == count
    assert s[("micktrace_logger_records_total", (("logger", "prom.unit.a"),))] == 3
    assert s[("micktrace_logger_records_total", (("logger", "prom.unit.b"),))] == 3
    assert s[("micktrace_records_emitted_total", (("handler", "mem"),))] == 6
    assert s[("micktrace_handler_errors_total", (("handler", "broken"),))] == 1
    assert s[("micktrace_records_fallback_total", (("handler", "broken"),))] == 1
    assert s[("micktrace_records_dropped_total", (("handler", "mem"),))] == 0
    assert s[("micktrace_handler_healthy", (("handler", "mem"),))] == 1
    assert s[("micktrace_handler_healthy", (("handler", "broken"),))] == 0
    assert s[("micktrace_handler_status", (("handler", "broken"), ("status", "failing")))] == 1
    assert s[("micktrace_handler_status", (("handler", "broken"), ("status", "healthy")))] == 0
    # sync handlers have no queue
    assert not [key for key in s if key[0] == "micktrace_queue_depth"]


def test_background_handler_has_queue_gauges_and_latency_quantiles(registry: CollectorRegistry, tmp_path: Path) -> None:
    micktrace.configure(handlers=[{"type": "file", "path": str(tmp_path / "app.log"), "name": "file"}])
    mp.register(registry, by_logger=False)
    log = micktrace.get_logger("prom.bg")
    for i in range(50):
        log.info("m", i=i)
    assert micktrace.flush(10)
    s = _samples(registry)
    assert s[("micktrace_records_emitted_total", (("handler", "file"),))] == 50
    assert s[("micktrace_queue_depth", (("handler", "file"),))] == 0
    assert s[("micktrace_queue_capacity", (("handler", "file"),))] == 10_000
    assert s[("micktrace_queue_high_water", (("handler", "file"),))] >= 1
    assert s[("micktrace_handler_batches_total", (("handler", "file"),))] >= 1
    assert s[("micktrace_handler_written_bytes_total", (("handler", "file"),))] == (tmp_path / "app.log").stat().st_size
    p50 = s[("micktrace_batch_latency_seconds", (("handler", "file"), ("quantile", "0.5")))]
    p99 = s[("micktrace_batch_latency_seconds", (("handler", "file"), ("quantile", "0.99")))]
    assert 0 <= p50 <= p99 < 10
    assert not [key for key in s if key[0] == "micktrace_logger_records_total"]  # by_logger=False
    assert getattr(_state.config.pipeline, "__wrapped__", None) is None  # type: ignore[union-attr]


def test_by_logger_counting_survives_configure_and_stops_on_unregister(registry: CollectorRegistry) -> None:
    micktrace.configure(handlers=[MemoryHandler()])
    mp.register(registry)
    log = micktrace.get_logger("prom.reconf")
    log.info("before")
    micktrace.configure(handlers=[MemoryHandler()])  # a new pipeline, not counted by logger yet
    log.info("missed")
    s = _samples(registry)  # the scrape wraps the new pipeline
    assert s[("micktrace_logger_records_total", (("logger", "prom.reconf"),))] == 1
    log.info("after")
    s = _samples(registry)
    assert s[("micktrace_logger_records_total", (("logger", "prom.reconf"),))] == 2
    mp.unregister(registry)
    assert getattr(_state.config.pipeline, "__wrapped__", None) is None  # type: ignore[union-attr]
    assert generate_latest(registry) == b""
    log.info("unregistered")  # still logged, no longer counted by logger
    assert micktrace.metrics()["records"]["by_level"]["INFO"] >= 4


def test_two_registries_get_their_own_collector_and_the_default_registry_is_used() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    try:
        a, b = mp.register(first), mp.register(second)
        assert a is not b
        default = mp.register()
        assert mp.register(None) is default and mp.register(REGISTRY) is default
        micktrace.get_logger("prom.default").warning("w")
        assert b"micktrace_records_total" in generate_latest(REGISTRY)
    finally:
        for reg in (first, second, REGISTRY):
            mp.unregister(reg)
    assert b"micktrace_" not in generate_latest(REGISTRY)


def test_missing_prometheus_client_names_the_extra() -> None:
    code = """
import sys
sys.modules["prometheus_client"] = None  # blocks the import
import micktrace
from micktrace.integrations import prometheus
for call in (prometheus.register, lambda: prometheus.start_http_server(0)):
    try:
        call()
    except micktrace.MissingExtraError as exc:
        print(exc.extra, "|", exc)
    else:
        print("no error")
"""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert line.startswith("prometheus |") and "pip install 'micktrace[prometheus]'" in line


# ---------------------------------------------------------------------------
# a real Prometheus scraping a real process

CHILD = r"""
import sys, threading
import micktrace
from micktrace.handlers.base import Handler
from micktrace.integrations import prometheus

port, path = int(sys.argv[1]), sys.argv[2]


class Gated(Handler):
    default_dispatch = "background"

    def __init__(self):
        super().__init__(name="gated")
        self.entered = threading.Event()
        self.gate = threading.Event()

    def write_lines(self, lines):
        self.entered.set()
        self.gate.wait()


class Broken(Handler):
    def write(self, line):
        raise OSError("disk on fire")


gated = Gated()
gated.dispatch_spec = ({"queue_size": 10, "overflow": "drop_newest"}, "gated.dispatch")
micktrace.configure(
    level="DEBUG",
    handlers=[{"type": "file", "path": path, "name": "file"}, gated, Broken(name="broken", level=40)],
)
prometheus.register()
api, db = micktrace.get_logger("app.api"), micktrace.get_logger("app.db")
api.info("first")
assert gated.entered.wait(10)  # the worker holds that record: the queue is empty
for _ in range(3):
    api.debug("d")
for _ in range(6):
    api.info("i")
for _ in range(4):
    db.warning("w")
for _ in range(2):
    db.error("e")
# gated: 15 records after the first, a queue of 10: 5 dropped, 10 waiting
prometheus.start_http_server(port)
print("ready", flush=True)
sys.stdin.read()  # until the test closes stdin
gated.gate.set()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def app_port(tmp_path: Path) -> Iterator[int]:
    port = _free_port()
    err = open(tmp_path / "child.err", "w")  # closed in the teardown
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(port), str(tmp_path / "app.log")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip() == "ready", (tmp_path / "child.err").read_text()
        yield port
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            _stop(proc)
        if proc.stdout:
            proc.stdout.close()
        err.close()


@pytest.fixture
def prometheus_url(app_port: int, tmp_path: Path) -> Iterator[str]:
    assert Path(PROMETHEUS).exists(), f"{PROMETHEUS} is missing: run scripts/test-deps.sh"
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: micktrace\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{app_port}']\n"
    )
    log = open(tmp_path / "prometheus.log", "w")  # closed in the teardown
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "prometheus exited:\n" + (tmp_path / "prometheus.log").read_text()
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "prometheus not ready:\n" + (tmp_path / "prometheus.log").read_text()
            time.sleep(0.2)
        yield url
    finally:
        _stop(proc)
        log.close()


def _query(url: str, promql: str) -> List[Dict[str, Any]]:
    full = url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(full, timeout=5) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def _values(result: List[Dict[str, Any]], label: str = "") -> Dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


def test_prometheus_scrapes_the_numbers_the_process_logged(prometheus_url: str) -> None:
    expected = {
        'micktrace_records_total{level="WARNING"}': {"": 4.0},
        'micktrace_records_total{level="DEBUG"}': {"": 3.0},
        "sum(micktrace_records_total)": {"": 16.0},
        'micktrace_records_dropped_total{handler="gated"}': {"": 5.0},
        'micktrace_queue_depth{handler="gated"}': {"": 10.0},
        'micktrace_records_fallback_total{handler="broken"}': {"": 2.0},
        'micktrace_handler_errors_total{handler="broken"}': {"": 2.0},
        'micktrace_records_emitted_total{handler="file"}': {"": 16.0},
        'micktrace_handler_healthy{handler="broken"}': {"": 0.0},
    }
    by_logger = "sum by (logger) (micktrace_logger_records_total)"
    deadline = time.monotonic() + 60
    while True:
        answers = {q: _values(_query(prometheus_url, q)) for q in expected}
        answers[by_logger] = _values(_query(prometheus_url, by_logger), "logger")
        if answers == {**expected, by_logger: {"app.api": 10.0, "app.db": 6.0}}:
            break
        assert time.monotonic() < deadline, f"Prometheus answered {answers}"
        time.sleep(0.5)
    # the scrape itself was healthy, and the job is the one configured
    up = _query(prometheus_url, 'up{job="micktrace"}')
    assert [float(r["value"][1]) for r in up] == [1.0]
