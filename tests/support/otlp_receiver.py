"""A real OTLP/HTTP logs receiver on 127.0.0.1 for the tests: POST /v1/logs with
protobuf (optionally gzipped), decoded with opentelemetry-proto and kept.

May import: the standard library and opentelemetry-proto.
"""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2


class OtlpHttpReceiver:
    def __init__(self) -> None:
        self.requests: List[Any] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                # GET /count: how many log records arrived (for a receiver in another process)
                data = str(len(receiver.records())).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/logs" or self.headers.get("Content-Type") != "application/x-protobuf":
                    self.send_response(400)
                    self.end_headers()
                    return
                request = logs_service_pb2.ExportLogsServiceRequest.FromString(body)
                with receiver._lock:
                    receiver.requests.append((dict(self.headers), request))
                data = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/logs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def records(self) -> List[Any]:
        """(resource attributes dict, LogRecord) for every record received, in order."""
        out = []
        with self._lock:
            for _headers, request in self.requests:
                for rl in request.resource_logs:
                    resource = {kv.key: kv.value.string_value for kv in rl.resource.attributes}
                    for sl in rl.scope_logs:
                        for lr in sl.log_records:
                            out.append((resource, lr))
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class OtlpGrpcReceiver:
    """A real OTLP/gRPC logs receiver (the LogsService from opentelemetry-proto) on
    127.0.0.1. ``fail(n, code)`` answers the next *n* calls with a gRPC status;
    ``token`` makes it demand ``authorization: Bearer <token>`` metadata."""

    def __init__(self, token: str = "") -> None:
        from concurrent import futures

        import grpc
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc

        self.requests: List[Any] = []
        self.metadata: List[Dict[str, str]] = []
        self._failures: List[Any] = []
        self._lock = threading.Lock()
        receiver = self

        class Servicer(logs_service_pb2_grpc.LogsServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:
                meta = {k: v for k, v in context.invocation_metadata()}
                with receiver._lock:
                    receiver.metadata.append(meta)
                    failure = receiver._failures.pop(0) if receiver._failures else None
                if failure is not None:
                    context.abort(failure, "injected by the test")
                if token and meta.get("authorization") != f"Bearer {token}":
                    context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")
                with receiver._lock:
                    receiver.requests.append((meta, request))
                return logs_service_pb2.ExportLogsServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Servicer(), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        if not port:
            raise RuntimeError("the gRPC receiver could not bind 127.0.0.1")
        self.server.start()
        self.url = f"http://127.0.0.1:{port}"

    def fail(self, n: int, code: Any) -> None:
        with self._lock:
            self._failures.extend([code] * n)

    records = OtlpHttpReceiver.records

    def close(self) -> None:
        self.server.stop(0)


if __name__ == "__main__":  # a receiver in its own process (the benchmark): prints its URL, serves until killed
    import sys

    server = OtlpGrpcReceiver() if sys.argv[1:] == ["grpc"] else OtlpHttpReceiver()
    print(server.url, flush=True)
    threading.Event().wait()
