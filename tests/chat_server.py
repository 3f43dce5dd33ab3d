"""A local OpenAI-compatible chat-completions server, for tests.

It serves ``POST /v1/chat/completions`` on 127.0.0.1 (an ephemeral port, a background
thread), plain or streamed as server-sent events the way OpenAI, Ollama, vLLM and the
llama.cpp server send them: one ``data: {chat.completion.chunk}`` event per piece of text,
a last chunk with ``finish_reason``, then ``data: [DONE]``. The answer comes from a
script (a function of the request's messages), so a test decides what the "model" writes::

    with ChatServer(lambda messages: "It works [PMID 1].", model="test-model") as server:
        env = {"MEDSEARCH_LLM_URL": server.url, "MEDSEARCH_LLM_MODEL_NAME": "test-model"}
        ...
        assert server.requests[0].body["stream"] is True

Every request is recorded with its headers and JSON body. Faults, each for the next
``times`` requests: :meth:`ChatServer.fail` answers with an HTTP status and an OpenAI-style
error body; ``api_key=`` makes the server demand ``Authorization: Bearer <key>`` (401
otherwise); an unknown model name gets 404, as OpenAI and Ollama answer. Nothing leaves
the machine.

Whole-server behaviours for fault injection (:attr:`ChatServer.behaviour`, default
``"normal"``): ``"echo_auth"`` answers every request with a 400 whose body repeats the
request's ``Authorization`` header (a careless proxy); ``"garbage"`` streams events that are
not JSON; ``"endless"`` streams words forever (no sentence ever ends); ``"silent"`` accepts
the request and never answers (until the server stops); ``"slow"`` waits ``slow_s`` seconds
before it answers normally.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Script = Callable[[list[dict]], str]
_PIECES = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class ChatRequest:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict


class ChatServer:
    def __init__(self, script: Script, *, model: str = "test-model", api_key: str | None = None) -> None:
        self.script = script
        self.model = model
        self.api_key = api_key
        self.requests: list[ChatRequest] = []
        self._faults: list[tuple[int, str]] = []
        self.behaviour = "normal"
        self.slow_s = 2.0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> ChatServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="chat server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # silent and endless answers end, so their connections close
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL a client is given (``.../v1``)."""
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def fail(self, status: int, message: str = "injected failure", times: int = 1) -> None:
        with self._lock:
            self._faults += [(status, message)] * times

    # -- answering ----------------------------------------------------------------------
    def _take_fault(self) -> tuple[int, str] | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}")
        with self._lock:
            self.requests.append(ChatRequest(handler.path, {k.lower(): v for k, v in handler.headers.items()}, body))
        if handler.path.rstrip("/") != "/v1/chat/completions":
            return _error(handler, 404, f"no route {handler.path}")
        if self.api_key is not None and handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(handler, 401, "Incorrect API key provided.", "invalid_api_key")
        if body.get("model") != self.model:
            return _error(handler, 404, f"The model `{body.get('model')}` does not exist.", "model_not_found")
        if self.behaviour == "echo_auth":
            return _error(handler, 400, f"Bad request from {handler.headers.get('Authorization')}")
        if self.behaviour in ("garbage", "endless"):
            return self._misbehave(handler)
        if self.behaviour == "silent":
            self._stopping.wait()
            return None
        if self.behaviour == "slow" and self._stopping.wait(self.slow_s):
            return None
        fault = self._take_fault()
        if fault is not None:
            return _error(handler, fault[0], fault[1])
        text = self.script(body.get("messages") or [])
        if body.get("stream"):
            return self._stream(handler, text)
        reply = {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                 "model": self.model, "choices": [{"index": 0, "finish_reason": "stop",
                                                   "message": {"role": "assistant", "content": text}}]}
        _json(handler, 200, reply)

    def _stream(self, handler: BaseHTTPRequestHandler, text: str) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.end_headers()

        def event(delta: dict, finish: str | None = None) -> None:
            chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
                     "model": self.model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            handler.wfile.flush()

        event({"role": "assistant", "content": ""})
        for piece in _PIECES.findall(text):
            event({"content": piece})
        event({}, "stop")
        handler.wfile.write(b"data: [DONE]\n\n")
        handler.wfile.flush()

    def _misbehave(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        try:
            if self.behaviour == "garbage":
                handler.wfile.write(_misbehaving_chunk(self.model, "Metformin"))
                handler.wfile.write(b"data: {this is not json\n\n")
                handler.wfile.flush()
                return
            while not self._stopping.is_set():  # endless: words, never a full stop
                handler.wfile.write(_misbehaving_chunk(self.model, "and "))
                handler.wfile.flush()
                time.sleep(0.002)
        except OSError:  # the client gave up and closed the connection
            pass


def _misbehaving_chunk(model: str, text: str) -> bytes:
    chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model,
             "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    return f"data: {json.dumps(chunk)}\n\n".encode()


def _handler(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection; the body ends when it closes

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            server._answer(self)

        def log_message(self, *args: object) -> None:  # quiet in tests
            pass

    return Handler


def _json(handler: BaseHTTPRequestHandler, status: int, obj: dict) -> None:
    data = json.dumps(obj).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _error(handler: BaseHTTPRequestHandler, status: int, message: str, code: str | None = None) -> None:
    _json(handler, status, {"error": {"message": message, "type": "invalid_request_error", "code": code}})
