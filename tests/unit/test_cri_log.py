"""The CRI log format: records, timestamps, and reading logs back as `logs` shows them."""

from __future__ import annotations

import datetime
import os
import random
import threading
import time

import pytest

from minikube_py.logs.cri import (
    MAX_RECORD_CONTENT,
    CRILogError,
    LogRecord,
    encode_records,
    format_timestamp,
    parse_line,
    parse_timestamp,
    read_log,
    rotated_log_name,
    rotated_logs,
)

TS = b"2016-10-06T00:17:09.669794202Z"
TS2 = b"2016-10-06T00:17:10.000000001Z"


def _ns(dt: datetime.datetime, extra_ns: int = 0) -> int:
    return int(dt.timestamp()) * 1_000_000_000 + extra_ns


def _write(path, *records: bytes) -> None:
    with open(path, "ab") as f:
        for r in records:
            f.write(r + b"\n")


# ---------------------------------------------------------------- timestamps


def test_format_timestamp_is_rfc3339_nano_utc_with_nine_digits():
    ns = _ns(datetime.datetime(2016, 10, 6, 0, 17, 9, tzinfo=datetime.UTC), 669794202)
    assert format_timestamp(ns) == TS
    assert format_timestamp(_ns(datetime.datetime(2024, 2, 29, tzinfo=datetime.UTC))) == (
        b"2024-02-29T00:00:00.000000000Z"
    )


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("2016-10-06T00:17:09.669794202Z", "2016-10-06T00:17:09.669794202Z"),
        ("2016-10-06T00:17:09.6697942Z", "2016-10-06T00:17:09.669794200Z"),  # containerd trims
        ("2016-10-06T00:17:09Z", "2016-10-06T00:17:09.000000000Z"),
        ("2016-10-06T02:17:09.5+02:00", "2016-10-06T00:17:09.500000000Z"),  # conmon: offsets
        ("2016-10-05T19:17:09.5-05:00", "2016-10-06T00:17:09.500000000Z"),
    ],
)
def test_parse_timestamp_reads_any_rfc3339_time(text, expect):
    assert format_timestamp(parse_timestamp(text)) == expect.encode()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "2016-10-06",
        "2016-10-06 00:17:09Z",
        "2016-13-06T00:17:09Z",
        "2016-10-06T00:17:09.Z",
        "2016-10-06T00:17:09+0200",
    ],
)
def test_parse_timestamp_rejects_non_rfc3339(bad):
    with pytest.raises(CRILogError, match="RFC 3339"):
        parse_timestamp(bad)


# ---------------------------------------------------------------- writing records


def _encode(data: bytes, stream=b"stdout", max_len=MAX_RECORD_CONTENT) -> list[bytes]:
    out: list[bytes] = []
    encode_records(stream, TS, data, out, max_len)
    return b"".join(out).splitlines(keepends=True)


def test_each_newline_ends_a_full_record():
    assert _encode(b"hello\nworld\n") == [TS + b" stdout F hello\n", TS + b" stdout F world\n"]


def test_empty_line_is_a_full_record_with_empty_content():
    assert _encode(b"\n", b"stderr") == [TS + b" stderr F \n"]


def test_bytes_without_newline_are_written_at_once_as_partial():
    assert _encode(b"a\nprompt> ") == [TS + b" stdout F a\n", TS + b" stdout P prompt> \n"]


def test_line_longer_than_16k_is_split_into_partial_records_then_full():
    line = bytes(random.Random(1).choice(b"abcdef") for _ in range(2 * MAX_RECORD_CONTENT + 7))
    records = [parse_line(r) for r in _encode(line + b"\n")]
    assert [r.partial for r in records] == [True, True, False]
    assert [len(r.content) for r in records] == [MAX_RECORD_CONTENT, MAX_RECORD_CONTENT, 7]
    assert b"".join(r.content for r in records) == line


def test_line_of_exactly_the_limit_is_one_full_record():
    records = [parse_line(r) for r in _encode(b"x" * 10 + b"\n", max_len=10)]
    assert [(r.partial, r.content) for r in records] == [(False, b"x" * 10)]
    records = [parse_line(r) for r in _encode(b"x" * 11 + b"\n", max_len=10)]
    assert [(r.partial, r.content) for r in records] == [(True, b"x" * 10), (False, b"x")]


def test_long_data_without_newline_is_all_partial():
    records = [parse_line(r) for r in _encode(b"y" * 25, max_len=10)]
    assert [(r.partial, len(r.content)) for r in records] == [(True, 10), (True, 10), (True, 5)]


def test_content_keeps_spaces_tabs_and_carriage_returns():
    assert parse_line(_encode(b"  a\tb c\r\n")[0]).content == b"  a\tb c\r"


# ---------------------------------------------------------------- parsing records


def test_parse_line_reads_a_full_and_a_partial_record():
    assert parse_line(TS + b" stdout F log content 1\n") == LogRecord(
        TS, b"stdout", False, b"log content 1"
    )
    assert parse_line(TS + b" stderr P part") == LogRecord(TS, b"stderr", True, b"part")


def test_parse_line_tolerates_extra_tags_and_missing_content():
    assert parse_line(TS + b" stdout P:x y").partial
    assert not parse_line(TS + b" stdout F:x y").partial
    assert parse_line(TS + b" stdout F").content == b""


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"hello world",
        TS + b" stdout",
        TS + b" stdin F x",
        b"yesterday stdout F x",
        b'{"log":"x","stream":"stdout","time":"2016-10-06T00:17:09Z"}',
    ],
)
def test_parse_line_rejects_what_is_not_a_cri_record(bad):
    with pytest.raises(CRILogError):
        parse_line(bad)


# ---------------------------------------------------------------- reading logs


def test_reader_joins_partial_records_into_their_full_line(tmp_path):
    log = tmp_path / "0.log"
    _write(
        log,
        TS + b" stdout P hel",
        TS + b" stdout P lo ",
        TS2 + b" stdout F world",
        TS2 + b" stdout F next",
    )
    assert list(read_log(str(log))) == [b"hello world\n", b"next\n"]


def test_reader_joins_per_stream_when_streams_interleave(tmp_path):
    log = tmp_path / "0.log"
    _write(
        log,
        TS + b" stdout P a",
        TS + b" stderr F error line",
        TS2 + b" stdout F b",
    )
    assert list(read_log(str(log))) == [b"error line\n", b"ab\n"]


def test_reader_ends_with_an_unterminated_last_line(tmp_path):
    log = tmp_path / "0.log"
    _write(log, TS + b" stdout F done", TS + b" stdout P no newline")
    assert list(read_log(str(log))) == [b"done\n", b"no newline"]


def test_reader_skips_records_it_cannot_parse(tmp_path):
    log = tmp_path / "0.log"
    _write(log, TS + b" stdout F one", b"garbage", TS + b" stdout F two")
    assert list(read_log(str(log))) == [b"one\n", b"two\n"]


def test_timestamps_prefix_each_line_with_its_first_chunks_time(tmp_path):
    log = tmp_path / "0.log"
    _write(
        log,
        TS + b" stdout P hello ",
        TS2 + b" stdout F world",
        b"2016-10-06T02:17:11.5+02:00 stderr F e",
    )
    assert list(read_log(str(log), timestamps=True)) == [
        TS + b" hello world\n",
        b"2016-10-06T00:17:11.500000000Z e\n",  # normalised as kubelet prints them
    ]


def test_tail_keeps_the_last_n_whole_lines(tmp_path):
    log = tmp_path / "0.log"
    _write(log, *[TS + b" stdout F line%d" % i for i in range(10)])
    assert list(read_log(str(log), tail_lines=3)) == [b"line7\n", b"line8\n", b"line9\n"]
    assert list(read_log(str(log), tail_lines=0)) == []
    assert len(list(read_log(str(log), tail_lines=100))) == 10
    assert len(list(read_log(str(log), tail_lines=-1))) == 10


def test_tail_keeps_a_line_whose_start_precedes_other_streams_lines(tmp_path):
    log = tmp_path / "0.log"
    _write(
        log,
        TS + b" stdout F old",
        TS + b" stdout P long ",  # starts before the two stderr lines...
        TS + b" stderr F e1",
        TS + b" stderr F e2",
        TS2 + b" stdout F line",  # ...and ends after them
    )
    assert list(read_log(str(log), tail_lines=1)) == [b"long line\n"]
    assert list(read_log(str(log), tail_lines=2)) == [b"e2\n", b"long line\n"]


def test_tail_reaches_into_rotated_files(tmp_path):
    log = str(tmp_path / "0.log")
    _write(rotated_log_name(log, 1_000_000), TS + b" stdout F a", TS + b" stdout F b")
    _write(rotated_log_name(log, 2_000_000), TS + b" stdout F c")
    _write(log, TS + b" stdout F d")
    assert list(read_log(log, tail_lines=3)) == [b"b\n", b"c\n", b"d\n"]


def test_reader_reads_rotated_files_oldest_first_then_the_current_one(tmp_path):
    log = str(tmp_path / "0.log")
    # written out of order on purpose: the names, not creation order, give the order
    _write(rotated_log_name(log, 3_000_000), TS + b" stdout F third")
    _write(rotated_log_name(log, 1_000_000), TS + b" stdout P fi", TS + b" stdout F rst")
    _write(log, TS + b" stdout F current")
    _write(rotated_log_name(log, 2_000_000), TS + b" stdout F second")
    _write(log + ".tmp", TS + b" stdout F not a rotated file")
    _write(str(tmp_path / "1.log"), TS + b" stdout F another restart")
    assert [os.path.basename(p) for p in rotated_logs(log)] == [
        "0.log.19700101-000001.000000",
        "0.log.19700101-000002.000000",
        "0.log.19700101-000003.000000",
    ]
    assert list(read_log(log)) == [b"first\n", b"second\n", b"third\n", b"current\n"]


def test_rotated_names_sort_in_time_order_within_a_second():
    names = [
        rotated_log_name("/x/0.log", us) for us in (1_700_000_000_000_009, 1_700_000_000_000_010)
    ]
    assert names == sorted(names)
    assert names[0] == "/x/0.log.20231114-221320.000009"


def test_reading_a_missing_log_says_which_file(tmp_path):
    with pytest.raises(CRILogError, match=r"no container log at .*/nope\.log"):
        list(read_log(str(tmp_path / "nope.log")))


def test_round_trip_gives_back_the_bytes_written(tmp_path):
    rng = random.Random(7)
    log = str(tmp_path / "0.log")
    sent = b""
    with open(log, "ab") as f:
        for _ in range(300):
            data = bytes(rng.choice(b"ab \n\t") for _ in range(rng.randint(1, 60)))
            sent += data
            out: list[bytes] = []
            encode_records(b"stdout", TS, data, out, 8)  # short limit: many P records
            f.write(b"".join(out))
    assert b"".join(read_log(log)) == sent


def test_round_trip_keeps_each_streams_lines_when_streams_interleave(tmp_path):
    rng = random.Random(8)
    log = str(tmp_path / "0.log")
    sent = {b"stdout": b"", b"stderr": b""}
    alphabet = {b"stdout": b"ab", b"stderr": b"xy"}  # tells the streams apart in the output
    with open(log, "ab") as f:
        for _ in range(300):
            stream = rng.choice([b"stdout", b"stderr"])
            data = bytes(rng.choice(alphabet[stream]) for _ in range(rng.randint(1, 30)))
            data += b"\n" if rng.random() < 0.3 else b""
            sent[stream] += data
            out: list[bytes] = []
            encode_records(stream, TS, data, out, 8)
            f.write(b"".join(out))
    lines = list(read_log(log))
    for stream, letters in alphabet.items():
        assert b"".join(x for x in lines if x[:1] in (letters[:1], letters[1:])) == sent[stream]


# ---------------------------------------------------------------- following


class _Follow:
    """Runs read_log(follow=True) in a thread, collecting (time, line)."""

    def __init__(self, path: str, **kw) -> None:
        self.items: list[tuple[float, bytes]] = []
        self.stop = threading.Event()
        self.cond = threading.Condition()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(path, kw), daemon=True)
        self.thread.start()

    def _run(self, path, kw) -> None:
        try:
            for line in read_log(path, follow=True, stop_event=self.stop, **kw):
                with self.cond:
                    self.items.append((time.monotonic(), line))
                    self.cond.notify_all()
        except BaseException as e:
            self.error = e

    def wait_for(self, n: int, timeout: float = 5.0) -> list[bytes]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.items) >= n, timeout)
            return [line for _, line in self.items]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def test_follow_yields_lines_written_later_and_ends_when_finished(tmp_path):
    log = str(tmp_path / "0.log")
    _write(log, TS + b" stdout F before")
    finished = threading.Event()
    f = _Follow(log, is_finished=finished.is_set, check_interval=0.05)
    try:
        assert f.wait_for(1) == [b"before\n"]
        _write(log, TS + b" stdout P aft", TS + b" stdout F er")
        assert f.wait_for(2) == [b"before\n", b"after\n"]
        _write(log, TS + b" stdout F last")
        finished.set()
        f.thread.join(5)
        assert not f.thread.is_alive()
        assert [line for _, line in f.items] == [b"before\n", b"after\n", b"last\n"]
        assert f.error is None
    finally:
        f.close()


def test_follow_shows_a_prompt_before_its_newline(tmp_path):
    log = str(tmp_path / "0.log")
    _write(log, TS + b" stdout P name? ")
    f = _Follow(log, is_finished=lambda: False, timestamps=True)
    try:
        assert f.wait_for(1) == [TS + b" name? "]
        _write(log, TS2 + b" stdout F bob")
        assert f.wait_for(2) == [TS + b" name? ", b"bob\n"]  # the line's rest, no new stamp
    finally:
        f.close()


def test_follow_with_tail_starts_from_the_last_lines(tmp_path):
    log = str(tmp_path / "0.log")
    _write(log, *[TS + b" stdout F %d" % i for i in range(5)])
    f = _Follow(log, tail_lines=2, is_finished=lambda: False)
    try:
        assert f.wait_for(2) == [b"3\n", b"4\n"]
        _write(log, TS + b" stdout F 5")
        assert f.wait_for(3) == [b"3\n", b"4\n", b"5\n"]
    finally:
        f.close()


def test_follow_crosses_into_the_new_file_after_a_rotation(tmp_path):
    log = str(tmp_path / "0.log")
    _write(log, TS + b" stdout F one")
    f = _Follow(log, is_finished=lambda: False)
    try:
        assert f.wait_for(1) == [b"one\n"]
        _write(log, TS + b" stdout F two")  # written before the rename: must not be lost
        os.rename(log, rotated_log_name(log, 1_000_000))
        _write(log, TS + b" stdout F three")
        assert f.wait_for(3) == [b"one\n", b"two\n", b"three\n"]
    finally:
        f.close()


def test_follow_without_a_writer_reads_to_the_end_and_stops(tmp_path):
    # no log writer holds this log: following ends once what is there has been read
    log = str(tmp_path / "0.log")
    _write(log, TS + b" stdout F all", TS + b" stdout P done")
    assert list(read_log(log, follow=True)) == [b"all\n", b"done"]


def test_stop_event_ends_following(tmp_path):
    log = str(tmp_path / "0.log")
    _write(log, TS + b" stdout F x")
    f = _Follow(log, is_finished=lambda: False, check_interval=0.05)
    assert f.wait_for(1) == [b"x\n"]
    f.close()
    assert not f.thread.is_alive()


def test_tail_across_many_blocks_ignores_an_unfinished_last_record(tmp_path):
    log = str(tmp_path / "0.log")
    _write(log, *[TS + b" stdout F %06d" % i for i in range(20000)])  # ~ 900 KB
    with open(log, "ab") as f:
        f.write(TS + b" stdout P " + b"z" * 200_000)  # being written: no newline yet
    # not following, the unfinished record is the last line
    assert list(read_log(log, tail_lines=3)) == [b"019998\n", b"019999\n", b"z" * 200_000]


def test_tail_n_is_the_last_n_lines_of_the_whole_log(tmp_path):
    rng = random.Random(3)
    log = str(tmp_path / "0.log")
    with open(log, "ab") as f:
        for i in range(3000):
            stream = rng.choice([b"stdout", b"stderr"])
            data = b"%d:" % i + b"w" * rng.randint(0, 400) + (b"\n" if rng.random() < 0.7 else b"")
            out: list[bytes] = []
            encode_records(stream, TS, data, out, 100)
            f.write(b"".join(out))
        for stream in (b"stdout", b"stderr"):  # no line left unfinished at the end
            f.write(TS + b" " + stream + b" F end\n")
    whole = list(read_log(log))
    for n in (1, 2, 5, 50, 700, 5000):
        assert list(read_log(log, tail_lines=n)) == whole[-n:], n


def test_following_a_log_in_a_missing_directory_says_which_file(tmp_path):
    with pytest.raises(CRILogError, match=r"no container log at .*/gone/0\.log"):
        list(read_log(str(tmp_path / "gone" / "0.log"), follow=True))
