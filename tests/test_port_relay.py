"""The relays of grading/port_relay.py, on a real local HTTP server: what
goes through them arrives whole, and Watch counts the requests in flight at
once (how lesson 9's grader tells requests sent together from a loop). That
a sandboxed child reaches the lesson's `vllm serve` through fork_relay is
tested by grading lesson 9's class (test_grading.py), run as root in CI."""

import concurrent.futures
import http.server
import os
import threading
import time
import urllib.request

import pytest

from vllm_course.runtime.port_relay import Watch


class SlowEcho(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.3)  # long enough for requests sent together to overlap
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowEcho)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def post(base_url: str, body: bytes) -> bytes:
    request = urllib.request.Request(base_url.removesuffix("/v1") + "/echo", data=body)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def test_bytes_pass_whole_and_a_loop_has_one_request_in_flight(echo_port):
    payload = os.urandom(200_000)  # several reads of the relay's buffer
    with Watch(echo_port) as watch:
        for _ in range(3):
            assert post(watch.base_url, payload) == payload
    assert len(watch.spans) == 3
    assert watch.most_at_once() == 1


def test_requests_sent_together_are_counted_together(echo_port):
    with Watch(echo_port) as watch, concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda i: post(watch.base_url, b"%d" % i), range(6)))
    assert answers == [b"%d" % i for i in range(6)]
    assert watch.most_at_once() == 6


def test_the_count_is_of_overlapping_spans():
    watch = Watch.__new__(Watch)  # the counting alone, without a relay
    watch.spans = [(0.0, 1.0), (0.5, 2.0), (1.5, 3.0), (3.0, 4.0)]
    assert watch.most_at_once() == 2
    watch.spans = []
    assert watch.most_at_once() == 0
