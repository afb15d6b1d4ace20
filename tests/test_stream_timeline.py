"""stream_timeline's reading of a server-sent event stream (a pure helper;
lesson 9's time_to_first_token check uses it against a real `vllm serve`)."""

from vllm_course.grading.stream_timeline import Exchange


def event(text: str | None) -> bytes:
    if text is None:
        return b"data: [DONE]\n\n"
    return b'data: {"choices": [{"index": 0, "text": "' + text.encode() + b'"}]}\n\n'


def test_events_are_counted_in_the_read_that_completes_them():
    exchange = Exchange("/v1/completions", sent=0.0)
    stream = event("") + event(" Paris") + event(" is") + event(None)
    # Split mid-event: the second event completes in the second read.
    cut, done = len(event("")) + 10, len(event(None))
    first, second, third = stream[:cut], stream[cut:-done], stream[-done:]
    counts = [exchange._count_texts(part) for part in (first, second, third)]
    assert counts == [0, 2, 0]  # an empty text and [DONE] carry no text


def test_crlf_line_ends_and_lines_that_are_not_data():
    exchange = Exchange("/v1/completions", sent=0.0)
    data = (b": a comment\r\n\r\n" + event(" a").replace(b"\n", b"\r\n")
            + b"event: ping\ndata: not json\n\n")
    assert exchange._count_texts(data) == 1
