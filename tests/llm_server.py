"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol, for tests and
benchmarks: scripted answers, a fixed delay, and injectable faults (429 + Retry-After, 5xx, 4xx,
malformed JSON, an HTML page, a JSON body that is not a chat completion, dropped connections, an answer
trickled a byte a second, a chunked body that never ends). The real `openai` client talks to it.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

# Realistic answers in the styles real models give, keyed by a substring of the user prompt.
ANSWERS: dict[str, str] = {
    "of a/an abseiling video action": (
        "Here are the identifying visual characteristics of abseiling:\n\n"
        "**Objects:** climbing rope, harness, helmet, carabiners\n"
        "**Body parts:** hands, feet\n"
        "**Scenes:** cliff, rock face\n"
        "**Roles:** climber, belayer"
    ),
    "of a/an playing guitar video action": "1. Guitar\n2. Fingers pressing the strings\n3. Guitar pick\n4. A musician sitting on a stool",
    "of a/an brushing teeth video action": "- Toothbrush\n- Toothpaste\n- Teeth\n- Bathroom sink\n- Mirror",
    "of a/an riding a bike video action": "Bicycle, helmet, road, and cyclist.",
    "of a/an dancing video action": "The video shows a dancer moving rhythmically on a stage, with focus and balance.",
    "what a/an climbing rope looks like": "A climbing rope is a long, thick, colourful braided cord coiled on the ground.",
    "explanations for climbing rope": "- A rope used to secure climbers\n- A dynamic rope that stretches to absorb falls",
    "explain climbing rope in one sentence": "A climbing rope is a strong, stretchy rope that protects a climber from falling.",
    "what a/an rock face looks like": "A steep, bare wall of rock on a mountain or cliff.",
    "explanations for rock face": "1. The exposed vertical surface of a cliff\n2. A climbing wall outdoors",
    "explain rock face in one sentence": "A rock face is a steep, exposed surface of rock.",
    "what a/an guitar pick looks like": "A small, flat, triangular piece of plastic held between thumb and finger.",
    "explanations for guitar pick": "- A plectrum used to strum strings",
    "explain guitar pick in one sentence": "A guitar pick is a small flat tool used to pluck or strum a guitar.",
    "what a/an bathroom sink looks like": "A white ceramic basin with a tap, mounted under a mirror.",
    "explanations for bathroom sink": "* A washbasin in a bathroom",
    "explain bathroom sink in one sentence": "A bathroom sink is a basin with running water for washing hands and teeth.",
}
DEFAULT_ENTITIES = "Objects: helmet, gloves\nScenes: field\nBody parts: hands"
TRICKLE_SECONDS = 1.0  # between two bytes of a "trickle" or "endless" answer


def default_answer(prompt: str) -> str:
    for key, answer in ANSWERS.items():
        if key in prompt:
            return answer
    if "video action" in prompt:
        return DEFAULT_ENTITIES
    return f"A concrete thing seen in videos ({len(prompt)} characters asked)."


@dataclass
class Fault:
    kind: str  # "429", "500", "503", "400", "401", "404", "malformed", "html", "notchat", "drop", "sleep", "trickle", "endless"
    retry_after: float | None = None
    seconds: float = 0.0


@dataclass
class ScriptedLLM:
    """The server's state: how it answers, what goes wrong next, and what it saw."""

    answer: Callable[[str], str] = default_answer
    delay: float = 0.0
    faults: deque = field(default_factory=deque)
    requests: list = field(default_factory=list)
    auth: list = field(default_factory=list)  # the Authorization header of each request
    in_flight: int = 0
    max_in_flight: int = 0
    persistent: dict = field(default_factory=dict)  # prompt substring -> fault kind (or Fault), for every matching request
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, kind: str, times: int = 1, retry_after: float | None = None, seconds: float = 0.0) -> None:
        for _ in range(times):
            self.faults.append(Fault(kind, retry_after, seconds))

    def prompts(self) -> list[str]:
        with self.lock:
            return [r["messages"][-1]["content"] for r in self.requests if "messages" in r]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: ScriptedLLM

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps({"error": {"message": message, "type": "test", "code": status}}).encode(), headers)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, json.dumps({"object": "list", "data": [{"id": "test-model", "object": "model"}]}).encode())
        else:
            self._error(404, "not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        request = json.loads(self.rfile.read(length) or b"{}")
        state = self.state
        prompt = (request.get("messages") or [{"content": ""}])[-1]["content"]
        with state.lock:
            state.requests.append(request)
            state.auth.append(self.headers.get("Authorization"))
            fault = state.faults.popleft() if state.faults else None
            kind = next((k for key, k in state.persistent.items() if key in prompt), None)
            fault = (kind if isinstance(kind, Fault) else Fault(kind)) if kind else fault
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            self._respond(request, prompt, fault)
        finally:
            with state.lock:
                state.in_flight -= 1

    def _respond(self, request: dict, prompt: str, fault: Fault | None) -> None:
        state = self.state
        if not self.path.split("?")[0].rstrip("/").endswith("/chat/completions"):
            return self._error(404, "not found")
        if fault is not None:
            if fault.kind == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault.kind == "malformed":
                return self._send(200, b'{"id": "x", "choices": [ {"message": ')
            if fault.kind == "html":  # a web server or proxy in front of the wrong path
                return self._send(200, b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>", content_type="text/html")
            if fault.kind == "notchat":  # JSON, but not a chat completion
                return self._send(200, json.dumps({"object": "list", "data": []}).encode())
            if fault.kind in ("trickle", "endless"):
                return self._trickle(request, prompt, endless=fault.kind == "endless")
            if fault.kind == "sleep":
                time.sleep(fault.seconds)
            else:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
                return self._error(int(fault.kind), f"scripted {fault.kind}", headers)
        if state.delay:
            time.sleep(state.delay)
        self._send(200, json.dumps(self._completion(request, prompt)).encode())

    def _trickle(self, request: dict, prompt: str, endless: bool) -> None:
        """A chat completion sent a byte per TRICKLE_SECONDS (Content-Length known); or, `endless`, a chunked body
        that sends a space per TRICKLE_SECONDS and never ends. Stops when the client hangs up."""
        body = b" " if endless else json.dumps(self._completion(request, prompt)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header(*(("Transfer-Encoding", "chunked") if endless else ("Content-Length", str(len(body)))))
        self.end_headers()
        self.close_connection = True
        try:
            for i in itertools.count():
                if not endless and i == len(body):
                    return
                self.wfile.write(b"1\r\n \r\n" if endless else body[i:i + 1])
                self.wfile.flush()
                time.sleep(TRICKLE_SECONDS)
        except OSError:  # the client gave up: what the tests expect
            return

    def _completion(self, request: dict, prompt: str) -> dict:
        """A chat completion of the scripted answer to `prompt`."""
        state = self.state
        content = state.answer(prompt)
        return {
            "id": f"chatcmpl-{len(state.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "test-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(content.split()),
                      "total_tokens": len(prompt.split()) + len(content.split())},
        }


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # dropped connections are scripted faults, not server errors


class LLMServer:
    """`with LLMServer() as server:` serves on 127.0.0.1 at a free port; `server.url` is the base URL."""

    def __init__(self, state: ScriptedLLM | None = None):
        self.state = state or ScriptedLLM()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "LLMServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
