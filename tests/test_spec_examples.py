"""The code blocks of the spec README, run as written.

Each block is pasted verbatim from ``MICKTRACE_README.md``; the test around it
checks what the block promises.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

import micktrace


def run_block(code: str, namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "spec_example"}
    if namespace:
        ns.update(namespace)
    exec(compile(code, "<spec>", "exec"), ns)
    return ns


INSTANT = """
import micktrace

logger = micktrace.get_logger(__name__)
logger.info("Application started", version="1.0.0", env="production")
"""

STRUCTURED = """
import micktrace

logger = micktrace.get_logger("api")

# Automatic structured output
logger.info("User login", 
           user_id=12345, 
           email="user@example.com",
           ip_address="192.168.1.1",
           success=True)
"""

ASYNC_CONTEXT = """
import asyncio
import micktrace

async def handle_request():
    async with micktrace.acontext(request_id="req_123", user_id=456):
        logger = micktrace.get_logger("handler")
        logger.info("Processing request")
        
        await process_data()  # Context automatically propagated
        
        logger.info("Request completed")

async def process_data():
    logger = micktrace.get_logger("processor")
    logger.info("Processing data")  # Includes request_id and user_id automatically
"""

APP_CONFIG = """
import micktrace

# Configure for your application
micktrace.configure(
    level="INFO",
    format="json",
    service="my-app",
    version="1.0.0",
    environment="production",
    handlers=[
        {"type": "console"},
        {"type": "file", "config": {"path": "app.log"}},
        {"type": "cloudwatch", "config": {"log_group": "my-app"}}
    ]
)
"""

DATA_PROCESSING = """
import micktrace

logger = micktrace.get_logger("data-processor")

def process_batch(batch_id: str, items: list):
    with micktrace.context(batch_id=batch_id, batch_size=len(items)):
        logger.info("Batch processing started")
        
        processed = 0
        failed = 0
        
        for item in items:
            item_logger = logger.bind(item_id=item["id"])
            try:
                process_item(item)
                item_logger.info("Item processed successfully")
                processed += 1
            except Exception as e:
                item_logger.error("Item processing failed", error=str(e))
                failed += 1
        
        logger.info("Batch processing completed", 
                   processed=processed, 
                   failed=failed,
                   success_rate=processed/len(items))
"""

MICROSERVICES = """
import micktrace
import asyncio

# Service A
async def service_a_handler(trace_id: str):
    async with micktrace.acontext(trace_id=trace_id, service="service-a"):
        logger = micktrace.get_logger("service-a")
        logger.info("Processing request in service A")
        
        # Call service B
        result = await call_service_b(trace_id)
        
        logger.info("Service A completed", result=result)
        return result

# Service B  
async def service_b_handler(trace_id: str):
    async with micktrace.acontext(trace_id=trace_id, service="service-b"):
        logger = micktrace.get_logger("service-b")
        logger.info("Processing request in service B")
        
        # Business logic
        await process_data()
        
        logger.info("Service B completed")
        return "success"
"""

LIBRARY = """
# Your library code
import micktrace

class MyLibrary:
    def __init__(self):
        # Library gets its own logger - no global state pollution
        self.logger = micktrace.get_logger("my_library")
    
    def process_data(self, data):
        self.logger.debug("Processing data", data_size=len(data))
        
        # Your processing logic
        result = self._internal_process(data)
        
        self.logger.info("Data processed successfully", 
                        input_size=len(data),
                        output_size=len(result))
        return result
    
    def _internal_process(self, data):
        # Library logging works regardless of application configuration
        self.logger.debug("Internal processing step")
        return data.upper()
"""

LIBRARY_APP = """
# Application using your library
import micktrace
from my_library import MyLibrary

# Application configures logging
micktrace.configure(level="INFO", format="json")

# Library logging automatically follows application configuration
lib = MyLibrary()
result = lib.process_data("hello world")
"""

ENV_CONFIG = """
import os
import micktrace

# Automatic environment variable support
os.environ["MICKTRACE_LEVEL"] = "DEBUG"
os.environ["MICKTRACE_FORMAT"] = "json"

# Configuration picks up environment variables automatically
micktrace.configure(
    service=os.getenv("SERVICE_NAME", "my-app"),
    environment=os.getenv("ENVIRONMENT", "development")
)
"""

DYNAMIC = """
import micktrace

# Hot-reload configuration without restart
def update_log_level(new_level: str):
    micktrace.configure(level=new_level)
    logger = micktrace.get_logger("config")
    logger.info("Log level updated", new_level=new_level)

# Change configuration at runtime
update_log_level("DEBUG")  # Now debug logs will appear
update_log_level("ERROR")  # Now only errors will appear
"""

CUSTOM_FORMATTER = """
import micktrace
from micktrace.formatters import Formatter

class CustomFormatter(Formatter):
    def format(self, record):
        return f"[{record.level.name}] {record.timestamp} | {record.message} | {record.data}"

micktrace.configure(
    level="INFO",
    handlers=[{
        "type": "console",
        "formatter": CustomFormatter()
    }]
)
"""

FILTERING = """
import micktrace

# Sample only 10% of debug logs to reduce volume
micktrace.configure(
    level="DEBUG",
    handlers=[{
        "type": "console",
        "filters": [
            {"type": "level", "level": "INFO"},  # Only INFO and above
            {"type": "sample", "rate": 0.1}     # Sample 10% of logs
        ]
    }]
)
"""

TESTING = """
import micktrace
import pytest

def test_my_function():
    # Capture logs during testing
    with micktrace.testing.capture_logs() as captured:
        my_function_that_logs()
        
        # Assert log content
        assert len(captured.records) == 2
        assert captured.records[0].message == "Function started"
        assert captured.records[1].level == micktrace.LogLevel.INFO

def test_with_context():
    # Test context propagation
    with micktrace.context(test_id="test_123"):
        logger = micktrace.get_logger("test")
        logger.info("Test message")
        
        # Context is available
        ctx = micktrace.get_context()
        assert ctx["test_id"] == "test_123"
"""

DEV_CONFIG = """
import micktrace

# Rich console output for development
micktrace.configure(
    level="DEBUG",
    format="rich",  # Beautiful console output
    handlers=[{
        "type": "rich_console",
        "show_time": True,
        "show_level": True,
        "show_path": True
    }]
)
"""

MIGRATION = """
# After (MickTrace) - Just change the import!
import micktrace
logger = micktrace.get_logger(__name__)
# Everything else works the same, but 10x better
"""

FROM_LOGURU = """
# After (MickTrace) - Same simplicity, more features
import micktrace  
logger = micktrace.get_logger(__name__)
micktrace.configure(level="INFO", format="structured")
"""


def test_instant_logging_zero_config(capsys: pytest.CaptureFixture[str]) -> None:
    run_block(INSTANT)
    err = capsys.readouterr().err
    assert "Application started" in err
    assert "version=1.0.0" in err and "env=production" in err
    assert "[spec_example]" in err


def test_structured_logging_fields(capsys: pytest.CaptureFixture[str]) -> None:
    with micktrace.testing.capture_logs() as captured:
        run_block(STRUCTURED)
    record = captured.records[0]
    # masking is on by default: the e-mail address (PII) never reaches a handler
    email = record.data.pop("email")
    assert "user@example.com" not in email
    assert record.data == {"user_id": 12345, "ip_address": "192.168.1.1", "success": True}
    err = capsys.readouterr().err
    assert "user_id=12345" in err and "user@example.com" not in err


def test_async_context_propagation() -> None:
    ns = run_block(ASYNC_CONTEXT)
    with micktrace.testing.capture_logs() as captured:
        asyncio.run(ns["handle_request"]())
    assert [r.message for r in captured.records] == ["Processing request", "Processing data", "Request completed"]
    for record in captured.records:
        assert record.context == {"request_id": "req_123", "user_id": 456}
    assert micktrace.get_context() == {}


def test_application_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the block as written, against a CloudWatch Logs server: tests/test_cloudwatch.py; without a region
    # configured anywhere the cloudwatch entry says so
    monkeypatch.chdir(tmp_path)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    with pytest.raises(micktrace.ConfigError, match=r"handlers\[2\]\.region"):
        run_block(APP_CONFIG)
    # the rest of the block, without the cloud handler, works as written
    run_block(APP_CONFIG.replace('        {"type": "cloudwatch", "config": {"log_group": "my-app"}}\n', ""))
    micktrace.get_logger("app").info("hello", n=1)
    micktrace.configure(reset=True)  # closes the file handler
    line = json.loads((tmp_path / "app.log").read_text().splitlines()[-1])
    assert line["service"] == "my-app" and line["version"] == "1.0.0" and line["environment"] == "production"
    assert line["message"] == "hello" and line["n"] == 1


def test_data_processing_example() -> None:
    def process_item(item: dict[str, Any]) -> None:
        if item["id"] == 2:
            raise ValueError("bad item")

    ns = run_block(DATA_PROCESSING, {"process_item": process_item})
    with micktrace.testing.capture_logs() as captured:
        ns["process_batch"]("b-1", [{"id": 1}, {"id": 2}, {"id": 3}])
    messages = [r.message for r in captured.records]
    assert messages[0] == "Batch processing started"
    assert messages.count("Item processed successfully") == 2
    failed = captured.filter(message="failed")[0]
    assert failed.data == {"item_id": 2, "error": "bad item"}
    assert failed.context == {"batch_id": "b-1", "batch_size": 3}
    done = captured.records[-1]
    assert done.data["processed"] == 2 and done.data["failed"] == 1


def test_microservices_example() -> None:
    async def process_data() -> None:
        micktrace.get_logger("db").info("querying")

    ns = run_block(MICROSERVICES, {"process_data": process_data})

    async def call_service_b(trace_id: str) -> str:
        return str(await ns["service_b_handler"](trace_id))

    ns["call_service_b"] = call_service_b
    with micktrace.testing.capture_logs() as captured:
        assert asyncio.run(ns["service_a_handler"]("t-9")) == "success"
    by_message = {r.message: r for r in captured.records}
    assert by_message["querying"].context == {"trace_id": "t-9", "service": "service-b"}
    assert by_message["Service A completed"].context == {"trace_id": "t-9", "service": "service-a"}


def test_library_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "my_library.py").write_text(LIBRARY)
    monkeypatch.syspath_prepend(str(tmp_path))
    ns = run_block(LIBRARY_APP)
    assert ns["result"] == "HELLO WORLD"
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert [x["message"] for x in lines] == ["Data processed successfully"]  # debug is below INFO
    assert lines[0]["input_size"] == 11 and lines[0]["logger"] == "my_library"


def test_environment_based_configuration(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MICKTRACE_LEVEL", "INFO")  # restored after the test
    monkeypatch.setenv("MICKTRACE_FORMAT", "text")
    monkeypatch.delenv("SERVICE_NAME", raising=False)
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    run_block(ENV_CONFIG)
    micktrace.get_logger("env").debug("visible", n=1)
    line = json.loads(capsys.readouterr().err.strip())
    assert line["level"] == "DEBUG" and line["service"] == "my-app" and line["environment"] == "development"


def test_dynamic_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    ns = run_block(DYNAMIC)
    err = capsys.readouterr().err
    assert "Log level updated" in err and "new_level=DEBUG" in err
    assert "new_level=ERROR" not in err  # INFO is below ERROR
    log = micktrace.get_logger("config")
    log.warning("hidden")
    log.error("shown")
    err = capsys.readouterr().err
    assert "hidden" not in err and "shown" in err
    ns["update_log_level"]("DEBUG")
    log.debug("debug again")
    assert "debug again" in capsys.readouterr().err


def test_custom_formatter(capsys: pytest.CaptureFixture[str]) -> None:
    run_block(CUSTOM_FORMATTER)
    micktrace.get_logger("x").info("hello", a=1)
    out = capsys.readouterr().err.strip()
    assert out.startswith("[INFO] ") and out.endswith("| hello | {'a': 1}")


def test_filtering_and_sampling(capsys: pytest.CaptureFixture[str]) -> None:
    run_block(FILTERING)
    log = micktrace.get_logger("sampled")
    for i in range(2000):
        log.debug("dbg", i=i)
        log.info("inf", i=i)
    lines = capsys.readouterr().err.splitlines()
    assert not any(" dbg " in x for x in lines)
    assert 100 < len(lines) < 320  # ~10% of 2000 INFO records


def test_testing_support_example() -> None:
    def my_function_that_logs() -> None:
        log = micktrace.get_logger("fn")
        log.debug("Function started")
        log.info("Function finished")

    ns = run_block(TESTING, {"my_function_that_logs": my_function_that_logs})
    ns["test_my_function"]()
    ns["test_with_context"]()


def test_development_configuration_rich(capsys: pytest.CaptureFixture[str]) -> None:
    run_block(DEV_CONFIG)
    micktrace.get_logger("dev").debug("rich debug line", k="v")
    err = capsys.readouterr().err
    assert "rich debug line" in err and "k=v" in err
    assert "test_spec_examples.py" in err  # show_path


def test_migration_examples(capsys: pytest.CaptureFixture[str]) -> None:
    ns = run_block(MIGRATION)
    ns["logger"].info("user %s logged in", "bob")
    assert "user bob logged in" in capsys.readouterr().err
    ns = run_block(FROM_LOGURU)
    ns["logger"].info("structured now", k=1)
    assert json.loads(capsys.readouterr().err)["k"] == 1


def test_flask_web_application_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = """
import micktrace
from flask import Flask, request

app = Flask(__name__)

# Configure structured logging
micktrace.configure(
    level="INFO",
    format="json",
    service="web-api",
    handlers=[{"type": "console"}, {"type": "file", "config": {"path": "api.log"}}]
)

@app.route("/api/users", methods=["POST"])
def create_user():
    with micktrace.context(
        request_id=request.headers.get("X-Request-ID"),
        endpoint="/api/users",
        method="POST"
    ):
        logger = micktrace.get_logger("api")
        logger.info("User creation started")
        
        # Your business logic here
        user_id = create_user_in_db()
        
        logger.info("User created successfully", user_id=user_id)
        return {"user_id": user_id}
"""
    ns = run_block(code, {"create_user_in_db": lambda: 77})
    client = ns["app"].test_client()
    response = client.post("/api/users", headers={"X-Request-ID": "rid-1"})
    assert response.get_json() == {"user_id": 77}
    micktrace.configure(reset=True)
    lines = [json.loads(x) for x in (tmp_path / "api.log").read_text().splitlines()]
    assert [x["message"] for x in lines] == ["User creation started", "User created successfully"]
    assert all(x["request_id"] == "rid-1" and x["service"] == "web-api" for x in lines)
    assert lines[1]["user_id"] == 77
