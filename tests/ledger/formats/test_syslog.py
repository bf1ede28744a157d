"""Syslog parsing and TCP framing, checked against the bytes util-linux `logger` really sends."""

from __future__ import annotations

import shutil
import socket
import subprocess
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mamori.ledger.events import IngestFormatError, Severity
from mamori.ledger.formats import FORMATS
from mamori.ledger.formats.syslog import (
    SyslogFramer,
    parse_structured_data,
    parse_syslog,
    parse_syslog_stream,
    syslog_event,
)

RECEIVED = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)


def capture_logger(*args: str) -> bytes:
    """What `logger -n 127.0.0.1 -P <port> -T <args>` writes to a TCP syslog server."""
    logger = shutil.which("logger")
    if logger is None:
        pytest.fail("`logger` is not installed; it comes with util-linux (Debian: bsdutils)")
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        command = [logger, "-n", "127.0.0.1", "-P", str(port), "-T", *args]
        with subprocess.Popen(command, stderr=subprocess.PIPE) as process:
            connection = _accept(server, process)
            with connection:
                connection.settimeout(10)
                received = b""
                while chunk := connection.recv(65536):
                    received += chunk
            _, errors = process.communicate(timeout=10)
    assert process.returncode == 0, errors.decode()
    return received


def _accept(server: socket.socket, process: subprocess.Popen[bytes]) -> socket.socket:
    """The logger's connection; fails with its error output if it exits without one."""
    server.settimeout(0.2)
    for _ in range(50):
        try:
            return server.accept()[0]
        except TimeoutError:
            if process.poll() is not None:
                errors = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"logger exited with {process.returncode}: {errors}")
    pytest.fail("logger did not connect within 10 seconds")


def test_logger_rfc5424_default_over_tcp() -> None:
    data = capture_logger("-t", "mamori-test", "hello from logger")
    assert data.startswith(b"<13>1 ") and data.endswith(b"\n")
    (event,) = FORMATS["syslog"].parse(data)
    assert event.message == "hello from logger"
    assert event.severity is Severity.NOTICE
    assert event.labels["app_name"] == "mamori-test"
    assert event.labels["facility"] == "user"
    assert event.labels["hostname"] == socket.gethostname()
    assert event.occurred_at is not None
    assert abs((datetime.now(UTC) - event.occurred_at).total_seconds()) < 60
    assert "timeQuality" in event.original["structured_data"]
    assert event.original["raw"] == data.decode().rstrip("\n")


def test_logger_rfc5424_octet_counting_with_structured_data() -> None:
    data = capture_logger(
        "--rfc5424",
        "--octet-count",
        "-p",
        "auth.warning",
        "-t",
        "sshd",
        "--msgid",
        "LOGIN",
        "--sd-id",
        "origin@32473",
        "--sd-param",
        'note="a \\"quoted\\" \\] value"',
        "failed password for bob",
    )
    assert data[:1].isdigit()
    framer = SyslogFramer()
    (frame,) = framer.feed(data) + framer.close()
    message = parse_syslog(frame)
    assert (message.facility, message.severity) == (4, 4)
    assert (message.app_name, message.msgid) == ("sshd", "LOGIN")
    assert message.structured_data["origin@32473"] == {"note": 'a "quoted" ] value'}
    event = syslog_event(message)
    assert (event.action, event.severity, event.labels["facility"]) == (
        "LOGIN",
        Severity.WARNING,
        "auth",
    )
    assert event.message == "failed password for bob"


def test_logger_rfc3164() -> None:
    data = capture_logger("--rfc3164", "-i", "-p", "daemon.err", "-t", "backupd", "disk full")
    (event,) = parse_syslog_stream(data)
    assert event.severity is Severity.ERROR
    assert event.labels["facility"] == "daemon"
    assert event.labels["app_name"] == "backupd"
    assert event.original["procid"].isdigit()
    assert event.message == "disk full"
    assert event.occurred_at is not None
    # RFC 3164 has no year or zone; logger here writes UTC.
    assert abs((datetime.now(UTC) - event.occurred_at).total_seconds()) < 120


def test_rfc5424_examples_from_the_rfc() -> None:
    bom_message = (
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
        "\ufeff'su root' failed for lonvick on /dev/pts/8"
    )
    message = parse_syslog(bom_message.encode())
    assert message.timestamp == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)
    assert (message.hostname, message.app_name, message.procid) == (
        "mymachine.example.com",
        "su",
        "",
    )
    assert message.message.startswith("'su root' failed")

    offset = "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time"
    message = parse_syslog(offset)
    assert message.timestamp == datetime(2003, 8, 24, 12, 14, 15, 3, tzinfo=UTC)
    assert (message.facility, message.severity, message.procid) == (20, 5, "8710")

    sd = (
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
        '[examplePriority@32473 class="high"]'
    )
    message = parse_syslog(sd)
    assert message.structured_data == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
        "examplePriority@32473": {"class": "high"},
    }
    assert message.message == ""


def test_nil_values_and_repeated_params() -> None:
    message = parse_syslog('<14>1 - - - - - [a x="1" x="2" y="c:\\\\d\\q"] body')
    assert message.timestamp is None and message.hostname == ""
    assert message.structured_data == {"a": {"x": ["1", "2"], "y": "c:\\d\\q"}}
    assert message.message == "body"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("<999>1 - - - - - -", "PRI"),
        ("<13>1 2026-13-01T00:00:00Z h a p m -", "TIMESTAMP"),
        ("<13>1 - h a", None),
        ('<13>1 - h a p m [id x="1"', "STRUCTURED-DATA"),
        ("<13>1 - h a p m [id x=1]", "STRUCTURED-DATA"),
        ("<13>1 - h a p m -text", "STRUCTURED-DATA"),
        ("<13>1 - h a p m oops", "STRUCTURED-DATA"),
    ],
)
def test_malformed_rfc5424(text: str, field: str | None) -> None:
    with pytest.raises(IngestFormatError) as caught:
        parse_syslog(text, number=7)
    assert caught.value.field == field
    assert "syslog message 7" in str(caught.value)


def test_rfc3164_variants() -> None:
    local = parse_syslog("<38>Dec 31 23:59:58 sshd[811]: Accepted key", received_at=RECEIVED)
    assert local.timestamp == datetime(2025, 12, 31, 23, 59, 58, tzinfo=UTC)
    assert (local.hostname, local.app_name, local.procid) == ("", "sshd", "811")
    assert local.message == "Accepted key"

    remote = parse_syslog("<13>Jan  1 00:00:01 gw1 kernel: link up", received_at=RECEIVED)
    assert remote.timestamp == datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert (remote.hostname, remote.app_name) == ("gw1", "kernel")

    iso = parse_syslog("<13>2025-06-01T10:00:00+09:00 host app: hi")
    assert iso.timestamp == datetime(2025, 6, 1, 1, 0, tzinfo=UTC)

    bare = parse_syslog("just some text")
    assert (bare.facility, bare.severity, bare.timestamp) == (1, 5, None)
    assert bare.message == "just some text"


def test_parse_structured_data_directly() -> None:
    assert parse_structured_data("- rest") == ({}, "rest")
    assert parse_structured_data("") == ({}, "")
    assert parse_structured_data('[x@1 k="v"]') == ({"x@1": {"k": "v"}}, "")


# --- framing -------------------------------------------------------------------------

FRAMES = [
    b"<13>1 2026-01-01T00:00:00Z host app - - - first",
    b"<13>1 - - - - - - multi\nline via octet counting",
    b"<14>Jan  1 00:00:00 host app: bsd",
    b"<13>1 - - - - - - " + "日本語".encode(),
]


def encode(frame: bytes, octet_counted: bool) -> bytes:
    return b"%d %s" % (len(frame), frame) if octet_counted else frame + b"\n"


def test_framer_mixes_both_framings_and_skips_blank_lines() -> None:
    stream = b"\n".join([encode(FRAMES[0], True), b"", encode(FRAMES[2], False) + b"\r"]) + encode(
        FRAMES[1], True
    )
    framer = SyslogFramer()
    assert framer.feed(stream) + framer.close() == [FRAMES[0], FRAMES[2], FRAMES[1]]


def test_framer_limits() -> None:
    with pytest.raises(IngestFormatError, match="longer than 100 bytes"):
        SyslogFramer(max_frame_bytes=100).feed(b"<13>" + b"x" * 200)
    with pytest.raises(IngestFormatError, match="longer than 100 bytes"):
        SyslogFramer(max_frame_bytes=100).feed(b"101 <13>")
    with pytest.raises(IngestFormatError, match="invalid octet count"):
        SyslogFramer().feed(b"12x <13>")
    with pytest.raises(IngestFormatError, match="invalid octet count"):
        SyslogFramer().feed(b"1234567 ")
    framer = SyslogFramer()
    assert framer.feed(b"40 <13>1 - - -") == []
    with pytest.raises(IngestFormatError, match="middle of a syslog frame"):
        framer.close()


def test_a_final_frame_without_newline_is_kept() -> None:
    framer = SyslogFramer()
    assert framer.feed(b"<13>no newline") == []
    assert framer.close() == [b"<13>no newline"]


@given(
    choices=st.lists(
        st.tuples(st.sampled_from(range(len(FRAMES))), st.booleans()), min_size=1, max_size=8
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=20),
)
def test_framer_gives_the_same_frames_however_the_stream_is_split(
    choices: list[tuple[int, bool]], cuts: list[int]
) -> None:
    # Newline framing cannot carry a frame that contains a newline.
    wanted = [FRAMES[i] for i, counted in choices if counted or b"\n" not in FRAMES[i]]
    stream = b"".join(
        encode(FRAMES[i], counted) for i, counted in choices if counted or b"\n" not in FRAMES[i]
    )
    framer = SyslogFramer()
    frames: list[bytes] = []
    previous = 0
    for cut in sorted(set(cuts)):
        frames += framer.feed(stream[previous:cut])
        previous = max(previous, cut)
    frames += framer.feed(stream[previous:]) + framer.close()
    assert frames == wanted
