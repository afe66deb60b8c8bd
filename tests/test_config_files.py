"""Configuration files (micktrace.configure_from_file, MICKTRACE_CONFIG): TOML,
JSON and YAML, environment expansion, clear errors, live reload under load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Iterator, List

import pytest

import micktrace
from micktrace.config.reload import stop_watching, watcher

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    stop_watching()
    micktrace.shutdown(timeout=2)
    micktrace.configure(reset=True)
    import micktrace._state as state

    state.config_file = None


def _lines(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _toml(log: Path, level: str = "INFO") -> str:
    return textwrap.dedent(
        f"""
        level = "{level}"
        service = "${{SERVICE_NAME:-shop}}"
        loggers = {{ noisy = "ERROR" }}

        [[handlers]]
        type = "file"
        path = "{log}"
        format = "json"
        """
    )


@pytest.mark.parametrize("kind", ["toml", "json", "yaml", "pyproject"])
def test_each_format_configures_the_same(tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "app.log"
    monkeypatch.setenv("SERVICE_NAME", "checkout")
    settings = {
        "level": "WARNING",
        "service": "${SERVICE_NAME}",
        "version": "${APP_VERSION:-1.2.3}",
        "loggers": {"noisy": "ERROR"},
        "handlers": [{"type": "file", "config": {"path": str(log)}, "format": "json"}],
    }
    if kind == "json":
        path = tmp_path / "micktrace.json"
        path.write_text(json.dumps(settings))
    elif kind == "yaml":
        import yaml

        path = tmp_path / "micktrace.yaml"
        path.write_text(yaml.safe_dump(settings))
    else:
        body = textwrap.dedent(
            f"""
            level = "WARNING"
            service = "${{SERVICE_NAME}}"
            version = "${{APP_VERSION:-1.2.3}}"
            loggers = {{ noisy = "ERROR" }}
            [[{"tool.micktrace." if kind == "pyproject" else ""}handlers]]
            type = "file"
            format = "json"
            config = {{ path = "{log}" }}
            """
        )
        if kind == "pyproject":
            body = '[project]\nname = "x"\n[tool.micktrace]\n' + body
        path = tmp_path / ("pyproject.toml" if kind == "pyproject" else "micktrace.toml")
        path.write_text(body)
    micktrace.configure_from_file(str(path))
    micktrace.get_logger("app").info("below the level")
    micktrace.get_logger("app").warning("kept")
    micktrace.get_logger("noisy.child").warning("below its logger level")
    micktrace.flush()
    (line,) = _lines(log)
    assert line["message"] == "kept"
    assert line["service"] == "checkout" and line["version"] == "1.2.3"
    assert micktrace.health()["config_file"]["status"] == "ok"
    assert watcher() is None  # no thread without watch


def test_bad_files_name_the_file_and_the_line_or_key(tmp_path: Path) -> None:
    bad_json = tmp_path / "a.json"
    bad_json.write_text('{\n  "level": "INFO",\n  "format": json\n}')
    with pytest.raises(micktrace.ConfigError) as exc:
        micktrace.configure_from_file(str(bad_json))
    assert str(bad_json) in str(exc.value) and "line 3" in str(exc.value)
    bad_toml = tmp_path / "a.toml"
    bad_toml.write_text('level = "INFO"\nformat = \n')
    with pytest.raises(micktrace.ConfigError, match=r"line 2"):
        micktrace.configure_from_file(str(bad_toml))
    bad_yaml = tmp_path / "a.yaml"
    bad_yaml.write_text("level: INFO\nhandlers: [\n  {type: file\n")
    with pytest.raises(micktrace.ConfigError, match=r"a\.yaml, line \d"):
        micktrace.configure_from_file(str(bad_yaml))
    bad_key = tmp_path / "b.toml"
    bad_key.write_text('level = "LOUD"\n')
    with pytest.raises(micktrace.ConfigError) as exc:
        micktrace.configure_from_file(str(bad_key))
    assert "b.toml" in str(exc.value) and "level" in str(exc.value) and "LOUD" in str(exc.value)
    missing_var = tmp_path / "c.json"
    missing_var.write_text('{"service": "${NOT_SET_ANYWHERE_42}"}')
    with pytest.raises(micktrace.ConfigError, match="NOT_SET_ANYWHERE_42") as exc:
        micktrace.configure_from_file(str(missing_var))
    assert "service" in str(exc.value)


def test_micktrace_config_applies_on_the_first_log_call(tmp_path: Path) -> None:
    log = tmp_path / "env.log"
    conf = tmp_path / "m.toml"
    conf.write_text(_toml(log))
    script = "import micktrace\nmicktrace.get_logger('x').info('from env config')\n"
    env = {**os.environ, "PYTHONPATH": SRC, "MICKTRACE_CONFIG": str(conf)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    (line,) = _lines(log)
    assert line["message"] == "from env config" and line["service"] == "shop"
    # importing alone reads nothing
    env_missing = {**env, "MICKTRACE_CONFIG": "/nonexistent.toml"}
    proc = subprocess.run(
        [sys.executable, "-c", "import micktrace"], env=env_missing, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0 and proc.stderr == ""


def test_a_broken_micktrace_config_never_breaks_a_log_call(tmp_path: Path) -> None:
    conf = tmp_path / "m.json"
    conf.write_text("{broken")
    script = (
        "import micktrace\nmicktrace.get_logger('x').warning('still logged')\nprint(micktrace.health()['status'])\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC, "MICKTRACE_CONFIG": str(conf)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "still logged" in proc.stderr and "m.json" in proc.stderr and "line 1" in proc.stderr
    assert proc.stdout.strip() == "degraded"


def test_live_reload_under_load_loses_nothing_and_rejects_a_broken_edit(tmp_path: Path) -> None:
    first, second, third = tmp_path / "1.log", tmp_path / "2.log", tmp_path / "3.log"
    conf = tmp_path / "live.toml"
    conf.write_text(_toml(first))
    micktrace.configure_from_file(str(conf), watch=True, poll_interval=0.05)
    stop = threading.Event()
    counts = [0] * 4

    def work(t: int) -> None:
        log = micktrace.get_logger(f"worker{t}")
        while not stop.is_set():
            log.info("tick", t=t, seq=counts[t])
            counts[t] += 1
            if counts[t] % 50 == 0:
                time.sleep(0.001)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()

    def replace(text: str) -> None:
        tmp = conf.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, conf)  # as editors save: a new inode

    def wait_for(predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return False

    try:
        time.sleep(0.3)
        replace(_toml(second))
        assert wait_for(lambda: second.exists() and second.stat().st_size > 0)
        replace('level = "INFO"\n[[handlers]\ntype = "file"\n')  # broken: the running configuration stays
        assert wait_for(lambda: (micktrace.health().get("config_file") or {}).get("status") == "error")
        health = micktrace.health()
        assert "live.toml" in health["config_file"]["error"] and "line" in health["config_file"]["error"]
        time.sleep(0.2)
        replace(_toml(third))
        assert wait_for(lambda: third.exists() and third.stat().st_size > 0)
        # the new handlers write as soon as the swap is made; the reload is marked ok once
        # configure() has returned (it first waits for the log calls still on the old handlers)
        assert wait_for(lambda: micktrace.health()["config_file"]["status"] == "ok")
        time.sleep(0.2)
    finally:  # the logging threads stop whatever an assertion above said (else they log forever)
        stop.set()
        for thread in threads:
            thread.join()
    micktrace.flush()
    seen = {}
    for path in (first, second, third):
        for line in _lines(path):
            key = (line["t"], line["seq"])
            assert key not in seen, f"{key} written twice ({seen[key]} and {path.name})"
            seen[key] = path.name
    expected = {(t, s) for t in range(4) for s in range(counts[t])}
    assert set(seen) == expected  # every record handled by the old or the new configuration, none lost
    assert {name for name in seen.values()} == {"1.log", "2.log", "3.log"}


def test_sighup_reloads(tmp_path: Path) -> None:
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    conf = tmp_path / "hup.json"
    conf.write_text(json.dumps({"handlers": [{"type": "file", "path": str(first), "format": "json"}]}))
    previous = signal.getsignal(signal.SIGHUP)
    try:
        micktrace.configure_from_file(str(conf), reload_on_sighup=True)
        conf.write_text(json.dumps({"handlers": [{"type": "file", "path": str(second), "format": "json"}]}))
        os.kill(os.getpid(), signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (watcher() is None or watcher().reloads < 1):
            time.sleep(0.02)
        micktrace.get_logger("hup").info("after")
        micktrace.flush()
        assert [line["message"] for line in _lines(second)] == ["after"]
    finally:
        signal.signal(signal.SIGHUP, previous)
