"""When the parts of a streamed HTTP response reached the client: events, not shares.

A check of a time that the student's code measures (time to the first token)
compares it with events seen from inside the same client: when the request
left, and when each read of the response body began and ended, with how many
server-sent events carrying text each read completed. The OpenAI client reads
the body lazily, one read at a time, and hands the student's loop every event
a read completed before it starts the next read; so the student's clock for
"the first chunk with text" was read after the read that completed that
chunk ended and before the next read began. These bounds hold however fast
or loaded the machine is.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class Read:
    start: float  # time.perf_counter() when the client asked for more of the body
    end: float  # when that read returned
    texts: int  # server-sent events with text that this read completed


@dataclass
class Exchange:
    """One request and the reads of its response body."""
    path: str
    sent: float  # just before the request was handed to the connection
    reads: list[Read] = field(default_factory=list)
    _pending: bytes = b""

    def text_reads(self) -> list[int]:
        """Indices of the reads that completed an event with text."""
        return [i for i, r in enumerate(self.reads) if r.texts]

    def _count_texts(self, data: bytes) -> int:
        """Events completed by `data` (after what came before) whose first
        choice has text: vLLM ends each event with a blank line."""
        *events, self._pending = (self._pending + data.replace(b"\r\n", b"\n")).split(b"\n\n")
        count = 0
        for event in events:
            for line in event.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    continue
                try:
                    choices = json.loads(payload).get("choices") or []
                except (ValueError, AttributeError):
                    continue
                if choices and isinstance(choices[0], dict) and choices[0].get("text"):
                    count += 1
        return count


class _TimedStream(httpx.SyncByteStream):
    def __init__(self, inner, exchange: Exchange):
        self.inner, self.exchange = inner, exchange

    def __iter__(self):
        iterator = iter(self.inner)
        while True:
            start = time.perf_counter()
            try:
                data = next(iterator)
            except StopIteration:
                return
            end = time.perf_counter()
            self.exchange.reads.append(Read(start, end, self.exchange._count_texts(data)))
            yield data

    def close(self) -> None:
        self.inner.close()


class StreamTimeline(httpx.BaseTransport):
    """An httpx transport that records an Exchange per request it sends."""

    def __init__(self):
        self._inner = httpx.HTTPTransport()
        self.exchanges: list[Exchange] = []

    def handle_request(self, request):
        exchange = Exchange(request.url.path, time.perf_counter())
        self.exchanges.append(exchange)
        response = self._inner.handle_request(request)
        response.stream = _TimedStream(response.stream, exchange)
        return response

    def close(self) -> None:
        self._inner.close()

    def streamed(self, path_end: str) -> Exchange | None:
        """The last exchange with `path_end` whose body carried text events."""
        found = [e for e in self.exchanges if e.path.endswith(path_end) and e.text_reads()]
        return found[-1] if found else None

