"""The native ledger hashing: the same bytes as the pure-Python reference, and safe on bad input.

`mamori.ledger._native` (src/mamori/ledger/_native.c) implements SHA-256 and BLAKE2b itself;
every function is compared here with hashlib or with its `hashing.py_*` reference, over
known answers and random events, and fed malformed blocks that must raise, never crash.
Every test runs once for each level of the module this CPU has (`use_simd(level)`):
"scalar", "avx2" (eight SHA-256 and four BLAKE2b lanes) and "avx512" (sixteen and eight).
"""

from __future__ import annotations

import hashlib
import platform
import random
import struct
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.ledger import hashing, merkle
from mamori.ledger.records import hour_of_head
from tests.support import simd

U64 = 2**64
LEAF = 32


native = simd.native
DEFAULT_SIMD, ALL_LEVELS, LEVELS = simd.DEFAULT_SIMD, simd.ALL_LEVELS, simd.LEVELS
simd_level = simd.simd_level  # every test once per SIMD level

Events = tuple[list[bytes], list[bytes], list[bytes]]


def test_native_module_is_built() -> None:
    assert hashing.NATIVE
    assert native.API == hashing.NATIVE_API
    assert hashing.block_digests is native.block_digests


# --- known answers: SHA-256 and BLAKE2b against hashlib ---------------------------------

LENGTHS = [*range(301), 511, 512, 513, 1000, 4095, 4096, 4097, 100_000]
KEYS = [b"", b"k", bytes(range(32)), bytes(range(63)), bytes(range(64)), b"\xff" * 64]


def _data(length: int) -> bytes:
    return bytes((n * 131 + 7) % 256 for n in range(length))


def test_sha256_known_answers() -> None:
    assert native.sha256(b"abc").hex() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    for length in LENGTHS:
        data = _data(length)
        assert native.sha256(data) == hashlib.sha256(data).digest(), length
    assert native.sha256(memoryview(b"xyz" * 50)[3:]) == hashlib.sha256(b"xyz" * 49).digest()


def test_blake2b_known_answers() -> None:
    assert native.blake2b(b"abc").hex() == hashlib.blake2b(b"abc").hexdigest()
    for length in LENGTHS:
        data = _data(length)
        for key in KEYS:
            for size in (16, 32, 64):
                expected = hashlib.blake2b(data, key=key, digest_size=size).digest()
                assert native.blake2b(data, key, size) == expected, (length, len(key), size)
    for size in (1, 12, 63):
        assert (
            native.blake2b(b"x", digest_size=size)
            == hashlib.blake2b(b"x", digest_size=size).digest()
        )


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=1200),
    st.binary(max_size=64),
    st.integers(min_value=1, max_value=64),
)
def test_blake2b_matches_hashlib(data: bytes, key: bytes, size: int) -> None:
    expected = hashlib.blake2b(data, key=key, digest_size=size).digest()
    assert native.blake2b(data, key=key, digest_size=size) == expected
    assert native.sha256(data) == hashlib.sha256(data).digest()


def test_hash_argument_errors() -> None:
    with pytest.raises(ValueError):
        native.blake2b(b"", b"k" * 65)
    for size in (0, 65, -1):
        with pytest.raises(ValueError):
            native.blake2b(b"", b"", size)
    with pytest.raises(TypeError):
        native.sha256("text")


# --- random events against the Python reference ------------------------------------------

_TIMES = st.one_of(
    st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{}".format,
        st.integers(min_value=1960, max_value=2200),
        st.integers(min_value=0, max_value=13),
        st.integers(min_value=0, max_value=32),
        st.integers(min_value=0, max_value=25),
        st.sampled_from(["00:00Z", "59:59.5+09:00", ""]),
    ),
    st.sampled_from(["2026-04-01", "2026-04-01 09", "2026-4-01T09", "２０２６-04-01T09", "x"]),
)
_HEADS = st.one_of(
    st.binary(max_size=120),
    st.builds(
        '{{"action":"{}","occurred_at":"{}","seq":1}}'.format,
        st.text(max_size=20).map(lambda text: text.replace('"', "")),
        _TIMES,
    ).map(str.encode),
    st.builds(lambda tail: b'{"occurred_at":"' + tail, st.binary(max_size=14)),
    st.just(b'{"occurred_at":null,"seq":3}'),
)
_EVENTS = st.lists(st.tuples(_HEADS, st.binary(max_size=60), st.binary(max_size=400)), max_size=40)


def _split(events: list[tuple[bytes, bytes, bytes]]) -> Events:
    return [e[0] for e in events], [e[1] for e in events], [e[2] for e in events]


@st.composite
def _batches(draw: st.DrawFn) -> tuple[bytes, int, Events]:
    """A secret, a valid first position for the events (some right below 2**64), events."""
    events = draw(_EVENTS)
    count = len(events)
    room = U64 - count
    first = draw(
        st.one_of(
            st.integers(min_value=0, max_value=room),
            st.integers(min_value=max(0, room - 3), max_value=room),
            st.just(0),
        )
    )
    return draw(st.binary(max_size=64)), first, _split(events)


@settings(max_examples=150, deadline=None)
@given(_batches())
def test_event_leaves_match_the_reference(batch: tuple[bytes, int, Events]) -> None:
    secret, first, (heads, subjects, contents) = batch
    expected = hashing.py_event_leaves(secret, first, heads, subjects, contents)
    assert native.event_leaves(secret, first, heads, subjects, contents) == expected
    got = native.event_leaves(secret, first, tuple(heads), tuple(subjects), tuple(contents))
    assert got == expected


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=200),
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=2**32 - 1), st.binary(max_size=400)),
        max_size=40,
    ),
)
def test_dedup_keys_match_the_reference(scope: bytes, keyed: list[tuple[int, bytes]]) -> None:
    hours, contents = [k[0] for k in keyed], [k[1] for k in keyed]
    expected = hashing.py_dedup_keys(scope, hours, contents)
    assert native.dedup_keys(scope, hours, contents) == expected
    assert all(len(key) == 16 for key in expected)


@settings(max_examples=150, deadline=None)
@given(_batches(), st.data())
def test_pack_chunk_and_block_digests_match_the_reference(
    batch: tuple[bytes, int, Events], data: st.DataObject
) -> None:
    secret, first, (heads, subjects, contents) = batch
    dedups = [data.draw(st.binary(min_size=16, max_size=16)) for _ in heads]
    scope = data.draw(st.binary(max_size=40))
    body, root = native.pack_chunk(secret, first, heads, subjects, contents, dedups)
    assert (body, root) == hashing.py_pack_chunk(secret, first, heads, subjects, contents, dedups)
    leaves = native.event_leaves(secret, first, heads, subjects, contents)
    assert root == merkle.root(leaves)

    digests = native.block_digests(body, first, secret, scope)
    assert digests == hashing.py_block_digests(body, first, secret, scope)
    assert digests[0] == b"".join(leaves)
    assert digests[2] == root
    hours = [hour_of_head(head) for head in heads]
    assert digests[1] == b"".join(native.dedup_keys(scope, hours, contents))
    assert native.block_digests(memoryview(body), first, secret, scope) == digests
    assert native.block_digests(bytearray(body), first, secret, scope) == digests
    assert native.block_digests(memoryview(b"pad" + body)[3:], first, secret, scope) == digests


def test_heads_give_their_occurred_hour_to_the_keys() -> None:
    heads = [
        b'{"occurred_at":"2026-04-01T09:15:00Z"}',
        b'{"occurred_at":"1970-01-01T00:00:00Z"}',
        b'{"occurred_at":"1969-12-31T23:59:59Z"}',
        b'{"occurred_at":"2024-02-31T23"}',  # a day the month lacks, counted on
        b'{"occurred_at":"2026-04-01T24:00:00Z"}',
        b'{"occurred_at":null}',
        b'{"note":"\\"occurred_at\\":\\"2026","occurred_at":"2026-04-01T09"}',
        b'{"occurred_at":"2026-04-01T0',
        b"",
    ]
    body, _ = native.pack_chunk(b"s", 0, heads, [b""] * 9, [b"c"] * 9, [bytes(16)] * 9)
    _, keys, _ = native.block_digests(body, 0, b"s", b"scope")
    hours = [int.from_bytes(keys[16 * n : 16 * n + 4], "big") for n in range(len(heads))]
    assert hours == [hour_of_head(head) for head in heads]
    assert hours[0] == 493_065 and hours[1] == 0 and hours[4] == 0 and hours[5] == 0
    assert keys == hashing.py_block_digests(body, 0, b"s", b"scope")[1]


def test_long_parts_cross_every_block_boundary() -> None:
    heads = [_data(n) for n in (0, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 5000)]
    subjects = [_data(n + 3) for n in (0, 23, 24, 31, 32, 33, 55, 56, 63, 64, 65, 4000)]
    contents = [_data(n * 7) for n in range(12)] + [_data(70_000)]
    heads.append(b"h")
    subjects.append(b"s")
    secret = bytes(range(64))
    expected = hashing.py_event_leaves(secret, 10, heads, subjects, contents)
    assert native.event_leaves(secret, 10, heads, subjects, contents) == expected


def test_merkle_root_matches_the_reference() -> None:
    leaves = [hashlib.sha256(bytes([n % 256, n // 256])).digest() for n in range(300)]
    for count in [*range(71), 127, 128, 129, 255, 256, 257, 300]:
        joined = b"".join(leaves[:count])
        assert native.merkle_root(joined) == merkle.root(leaves[:count]), count
        assert native.merkle_root(memoryview(joined)) == hashing.py_merkle_root(joined)
    assert native.merkle_root(b"") == merkle.EMPTY_ROOT
    for length in (1, 31, 33, 63):
        with pytest.raises(ValueError):
            native.merkle_root(bytes(length))


def test_hashing_runs_in_threads() -> None:
    blocks = []
    for number in range(8):
        heads = [b'{"occurred_at":"2026-04-01T%02d"}' % n for n in range(24)]
        parts = [_data(300 + number + n) for n in range(24)]
        body, _ = native.pack_chunk(b"k", 24 * number, heads, parts, parts, [bytes(16)] * 24)
        blocks.append((body, 24 * number))
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda b: native.block_digests(b[0], b[1], b"k", b"s"), blocks * 4))
    assert got == [hashing.py_block_digests(body, first, b"k", b"s") for body, first in blocks] * 4


# --- the lanes: the choice of level, and messages around every block boundary ----------


def _cpu_flags() -> set[str] | None:
    """This CPU's feature flags (from /proc/cpuinfo), empty off x86-64, None if unknown."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return set()
    if not sys.platform.startswith("linux"):
        return None
    flags: set[str] = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return flags


def test_the_best_level_the_cpu_has_is_the_default(simd_level: str) -> None:
    flags = _cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo to tell which vector instructions this x86-64 CPU has")
    has = {"scalar": True, "avx2": "avx2" in flags, "avx512": "avx512f" in flags}
    assert [level for level in ALL_LEVELS if has[level]] == LEVELS
    best = LEVELS[-1]
    assert best == DEFAULT_SIMD
    assert simd_level in LEVELS
    try:
        assert native.use_simd(True) is None
        assert native.simd() == best
        assert native.use_simd(False) is None
        assert native.simd() == "scalar"
        native.use_simd(1)
        assert native.simd() == best
        native.use_simd(0)
        assert native.simd() == "scalar"
        for level in ALL_LEVELS:
            native.use_simd(level)
            # a level the CPU lacks falls back to the best one below it
            below = [
                other for other in LEVELS if ALL_LEVELS.index(other) <= ALL_LEVELS.index(level)
            ]
            assert native.simd() == below[-1], level
        native.use_simd("avx2")
        for unknown in ("AVX2", "avx512f", "sse2", "", "scalar "):
            with pytest.raises(ValueError):
                native.use_simd(unknown)
            assert native.simd() == ("avx2" if has["avx2"] else "scalar")
    finally:
        native.use_simd(simd_level)
    assert native.simd() == simd_level


# Lengths of a subject or content around the block boundaries of SHA-256(salt || part):
# 32 bytes of salt come first, 55 bytes are the most one padded block holds, 119 two.
_PART_EDGES = [0, 1, 22, 23, 24, 25, 31, 32, 33, 55, 56, 63, 64, 65, 86, 87, 88, 95, 96, 97]
_PART_EDGES += [119, 120, 127, 128, 129, 151, 152, 159, 160]
# Lengths of a head around those of SHA-256(0x00 || head || 0x0A || d1 || d2), 66 bytes
# longer than the head.
_HEAD_EDGES = [0, 1, 52, 53, 54, 55, 56, 61, 62, 63, 64, 116, 117, 118, 119, 120, 125, 126]


def _sized(lengths: st.SearchStrategy[int]) -> st.SearchStrategy[bytes]:
    return lengths.flatmap(lambda size: st.binary(min_size=size, max_size=size))


_LANE_EVENTS = st.lists(
    st.tuples(
        _sized(st.one_of(st.sampled_from(_HEAD_EDGES), st.integers(0, 200))),
        _sized(st.one_of(st.sampled_from(_PART_EDGES), st.integers(0, 200))),
        # now and then a long content, which keeps its lane busy long after the others
        _sized(st.one_of(st.sampled_from(_PART_EDGES), st.integers(0, 400), st.integers(0, 3000))),
    ),
    max_size=70,
)


@settings(max_examples=120, deadline=None)
@given(
    _LANE_EVENTS,
    st.binary(max_size=64),
    st.one_of(st.integers(min_value=0, max_value=U64 - 70), st.just(U64 - 70)),
    st.data(),
)
def test_groups_of_events_match_the_reference(
    events: list[tuple[bytes, bytes, bytes]], secret: bytes, first: int, data: st.DataObject
) -> None:
    heads, subjects, contents = _split(events)
    expected = hashing.py_event_leaves(secret, first, heads, subjects, contents)
    assert native.event_leaves(secret, first, heads, subjects, contents) == expected

    dedups = [data.draw(st.binary(min_size=16, max_size=16)) for _ in heads]
    body, root = native.pack_chunk(secret, first, heads, subjects, contents, dedups)
    reference = hashing.py_pack_chunk(secret, first, heads, subjects, contents, dedups)
    assert (body, root) == reference
    digests = native.block_digests(body, first, secret, b"scope")
    assert digests == hashing.py_block_digests(body, first, secret, b"scope")
    assert digests[0] == b"".join(expected)


@pytest.mark.parametrize("count", [*range(18), 31, 32, 33, 63, 64, 65, 70, 127, 128, 129, 200])
def test_every_count_of_events_matches_the_reference(count: int) -> None:
    """Each event differs from its neighbours in length, across the groups of 64 events."""
    heads = [_data(n * 7 % 190) for n in range(count)]
    subjects = [_data(n * 11 % 130) for n in range(count)]
    contents = [_data(n * 37 % 700) for n in range(count)]
    expected = hashing.py_event_leaves(b"secret", 3, heads, subjects, contents)
    assert native.event_leaves(b"secret", 3, heads, subjects, contents) == expected
    body, root = native.pack_chunk(b"secret", 3, heads, subjects, contents, [bytes(16)] * count)
    assert root == merkle.root(expected)
    assert native.block_digests(body, 3, b"secret", b"")[0] == b"".join(expected)


def test_merkle_root_of_every_count_to_300() -> None:
    leaves = hashlib.shake_256(b"leaves").digest(LEAF * 4097)
    for count in [*range(301), 511, 512, 513, 1000, 4097]:
        joined = leaves[: LEAF * count]
        assert native.merkle_root(joined) == hashing.py_merkle_root(joined), count
        shifted = memoryview(b"x" + joined)[1:]  # leaves at an odd address
        assert native.merkle_root(shifted) == hashing.py_merkle_root(joined), count


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=300), st.randoms(use_true_random=False))
def test_merkle_roots_of_random_leaves(count: int, rng: random.Random) -> None:
    leaves = rng.randbytes(LEAF * count)
    assert native.merkle_root(leaves) == hashing.py_merkle_root(leaves)


# De-duplication keys hash scope || content in 128-byte BLAKE2b blocks; the scope is
# buffered ahead of the content (or partly compressed when longer than a block), so the
# blocks of a message end where scope and content together reach a multiple of 128.
_SCOPE_SIZES = [0, 1, 15, 64, 127, 128, 129, 255, 256, 300]


@st.composite
def _scoped_contents(draw: st.DrawFn) -> tuple[bytes, list[int], list[bytes]]:
    """A scope, and contents whose lengths put scope || content around block boundaries."""
    scope = draw(_sized(st.one_of(st.sampled_from(_SCOPE_SIZES), st.integers(0, 400))))
    edge = st.builds(
        lambda blocks, delta: max(0, 128 * blocks + delta - len(scope)),
        st.integers(min_value=0, max_value=5),
        st.integers(min_value=-2, max_value=2),
    )
    lengths = st.one_of(edge, st.integers(0, 700), st.integers(0, 3000))
    # counts around the lanes (4, 8 and 16) and the queues of 128 keys
    count = draw(st.one_of(st.integers(0, 40), st.sampled_from([127, 128, 129, 130, 200])))
    contents = [draw(_sized(lengths)) for _ in range(count)]
    hours = [draw(st.integers(min_value=0, max_value=2**32 - 1)) for _ in range(count)]
    return scope, hours, contents


@settings(max_examples=150, deadline=None)
@given(_scoped_contents())
def test_dedup_keys_around_block_boundaries(keyed: tuple[bytes, list[int], list[bytes]]) -> None:
    scope, hours, contents = keyed
    expected = hashing.py_dedup_keys(scope, hours, contents)
    assert native.dedup_keys(scope, hours, contents) == expected


@pytest.mark.parametrize("scope_size", _SCOPE_SIZES)
def test_dedup_keys_of_every_length_to_four_blocks(scope_size: int) -> None:
    """Contents of every length up to 4 blocks past the scope, in one batch and one by one."""
    scope = _data(scope_size)[::-1]
    contents = [_data(length) for length in range(4 * 128 + 3)]
    hours = list(range(len(contents)))
    expected = hashing.py_dedup_keys(scope, hours, contents)
    assert native.dedup_keys(scope, hours, contents) == expected
    for count in (1, 2, 3, 5, 9, 17):
        assert native.dedup_keys(scope, hours[:count], contents[-count:]) == (
            hashing.py_dedup_keys(scope, hours[:count], contents[-count:])
        )


@pytest.mark.parametrize("count", [*range(20), 31, 32, 33, 127, 128, 129, 255, 256, 257])
def test_every_count_of_keys_and_blocks_matches_the_reference(count: int) -> None:
    """Keys of contents of varied lengths, and the salts and keys of blocks of as many events."""
    contents = [_data(n * 53 % 600) for n in range(count)]
    hours = [n * 7919 for n in range(count)]
    scope = b"tenant-7|audit|"
    assert native.dedup_keys(scope, hours, contents) == hashing.py_dedup_keys(
        scope, hours, contents
    )
    heads = [b'{"occurred_at":"2026-04-01T%02d"}' % (n % 24) for n in range(count)]
    subjects = [_data(n % 90) for n in range(count)]
    body, _ = native.pack_chunk(b"k" * 64, 9, heads, subjects, contents, [bytes(16)] * count)
    assert native.block_digests(body, 9, b"k" * 64, scope) == hashing.py_block_digests(
        body, 9, b"k" * 64, scope
    )


def test_switching_paths_while_threads_hash() -> None:
    """use_simd only changes the path of calls to come: running ones give the same bytes."""
    heads = [_data(60 + n) for n in range(100)]
    parts = [_data(n * 5) for n in range(100)]
    body, root = native.pack_chunk(b"k", 0, heads, parts, parts, [bytes(16)] * 100)
    expected = hashing.py_block_digests(body, 0, b"k", b"s")
    before = native.simd()
    done = threading.Event()

    def switch() -> None:
        choices: list[str | bool] = [*ALL_LEVELS, False, True]
        turn = 0
        while not done.is_set():
            native.use_simd(choices[turn % len(choices)])
            turn += 1

    switcher = threading.Thread(target=switch)
    switcher.start()
    try:
        with ThreadPoolExecutor(3) as pool:
            got = list(pool.map(lambda _: native.block_digests(body, 0, b"k", b"s"), range(60)))
    finally:
        done.set()
        switcher.join()
        native.use_simd(before)
    assert got == [expected] * 60
    assert expected[2] == root


# --- malformed blocks ---------------------------------------------------------------------


def _small_block() -> bytes:
    heads = [b'{"occurred_at":"2026-04-01T09"}', b"", b"h"]
    body: bytes = native.pack_chunk(
        b"key", 5, heads, [b"s1", b"", b"s3"], [b"content", b"c", b""], [bytes(16)] * 3
    )[0]
    return body


def _table(count: int, lengths: list[int], tail: bytes) -> bytes:
    """A block header claiming `count` events of these lengths, zero leaves and keys."""
    return (
        b"MB1"
        + struct.pack(">I", count)
        + struct.pack(f">{len(lengths)}I", *lengths)
        + bytes(48 * count)
        + tail
    )


def _both_reject(body: bytes) -> None:
    with pytest.raises(ValueError):
        native.block_digests(body, 0, b"", b"")
    with pytest.raises(ValueError):
        hashing.py_block_digests(body, 0, b"", b"")


def _agree(body: bytes) -> None:
    """The native parser accepts `body` exactly when the reference does, with its results."""
    try:
        expected = hashing.py_block_digests(body, 5, b"key", b"s")
    except ValueError:
        _both_reject(body)
    else:
        assert native.block_digests(body, 5, b"key", b"s") == expected


def test_every_truncation_of_a_block_is_rejected() -> None:
    body = _small_block()
    for cut in range(len(body)):
        _both_reject(body[:cut])
        with pytest.raises(ValueError):
            native.block_digests(memoryview(body)[:cut], 0, b"", b"")
    _both_reject(body + b"\x00")
    _both_reject(b"MB2" + body[3:])
    _both_reject(b"mb1" + body[3:])


def test_impossible_tables_are_rejected() -> None:
    _both_reject(b"MB1" + b"\xff\xff\xff\xff" + bytes(100))
    _both_reject(b"MB1" + b"\x00\x00\x00\x02" + bytes(100))
    _both_reject(_table(1, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], b"abc"))
    # lengths whose sum is the right size modulo 2**32: only a 64-bit sum sees through them
    _both_reject(_table(1, [0xFFFFFFFF, 5, 0], b"abcd"))
    _both_reject(_table(2, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 8], b""))
    empty: tuple[bytes, bytes, bytes] = native.block_digests(_table(0, [], b""), 9, b"", b"")
    assert empty == (b"", b"", merkle.EMPTY_ROOT)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_blocks_agree_with_the_reference(data: st.DataObject) -> None:
    body = bytearray(_small_block())
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        at = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        body[at] = data.draw(st.integers(min_value=0, max_value=255))
    _agree(bytes(body))


# --- argument errors ----------------------------------------------------------------------

ONE: Events = ([b"h"], [b"s"], [b"c"])


def test_a_secret_longer_than_64_bytes_is_refused() -> None:
    secret = bytes(65)
    with pytest.raises(ValueError):
        hashing.py_event_leaves(secret, 0, *ONE)
    with pytest.raises(ValueError):
        native.event_leaves(secret, 0, *ONE)
    with pytest.raises(ValueError):
        native.pack_chunk(secret, 0, *ONE, [bytes(16)])
    with pytest.raises(ValueError):
        native.block_digests(_small_block(), 0, secret, b"")
    assert native.event_leaves(bytes(64), 0, *ONE) == hashing.py_event_leaves(bytes(64), 0, *ONE)


def test_sequences_of_different_lengths_are_refused() -> None:
    for heads, subjects, contents in (([b"h"], [], [b"c"]), ([], [], [b"c"]), ([b"h"], [b"s"], [])):
        with pytest.raises(ValueError):
            hashing.py_event_leaves(b"", 0, heads, subjects, contents)
        with pytest.raises(ValueError):
            native.event_leaves(b"", 0, heads, subjects, contents)
        with pytest.raises(ValueError):
            native.pack_chunk(b"", 0, heads, subjects, contents, [bytes(16)])
    with pytest.raises(ValueError):
        native.pack_chunk(b"", 0, *ONE, [])
    with pytest.raises(ValueError):
        hashing.py_pack_chunk(b"", 0, *ONE, [])
    with pytest.raises(ValueError):
        native.dedup_keys(b"", [1, 2], [b"c"])
    with pytest.raises(ValueError):
        hashing.py_dedup_keys(b"", [1, 2], [b"c"])


def test_dedups_must_be_16_bytes() -> None:
    for dedup in (bytes(15), bytes(17), b""):
        with pytest.raises(ValueError):
            native.pack_chunk(b"", 0, *ONE, [dedup])
        with pytest.raises(ValueError):
            hashing.py_pack_chunk(b"", 0, *ONE, [dedup])


def test_items_must_be_bytes() -> None:
    for bad in ("text", bytearray(b"h"), memoryview(b"h"), None, 7):
        with pytest.raises(TypeError):
            native.event_leaves(b"", 0, [bad], [b"s"], [b"c"])
        with pytest.raises(TypeError):
            native.event_leaves(b"", 0, [b"h"], [b"s"], [bad])
        with pytest.raises(TypeError):
            native.pack_chunk(b"", 0, *ONE, [bad])
        with pytest.raises(TypeError):
            native.dedup_keys(b"", [0], [bad])
    with pytest.raises(TypeError):
        hashing.py_event_leaves(b"", 0, ["text"], [b"s"], [b"c"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        native.event_leaves(b"", 0, 5, [b"s"], [b"c"])
    with pytest.raises(TypeError):
        native.block_digests("MB1", 0, b"", b"")


def test_positions_outside_eight_bytes_are_refused() -> None:
    # The reference's struct.pack raises struct.error; the native module OverflowError.
    for first in (-1, -(2**70), U64, U64 + 1, 2**100):
        with pytest.raises((OverflowError, struct.error)):
            hashing.py_event_leaves(b"", first, *ONE)
        with pytest.raises(OverflowError):
            native.event_leaves(b"", first, *ONE)
        with pytest.raises(OverflowError):
            native.pack_chunk(b"", first, *ONE, [bytes(16)])
        with pytest.raises(OverflowError):
            native.block_digests(_small_block(), first, b"", b"")
    three: Events = ([b"a", b"b", b"c"], [b""] * 3, [b""] * 3)
    with pytest.raises((OverflowError, struct.error)):
        hashing.py_event_leaves(b"", U64 - 2, *three)
    with pytest.raises(OverflowError):
        native.event_leaves(b"", U64 - 2, *three)
    with pytest.raises(OverflowError):
        native.block_digests(_small_block(), U64 - 2, b"", b"")
    last = native.event_leaves(b"", U64 - 3, *three)
    assert last == hashing.py_event_leaves(b"", U64 - 3, *three)
    assert native.event_leaves(b"", U64, [], [], []) == []
    with pytest.raises(TypeError):
        native.event_leaves(b"", 1.0, *ONE)


def test_hours_outside_four_bytes_are_refused() -> None:
    for hour in (-1, 2**32, 2**70):
        with pytest.raises(OverflowError):
            hashing.py_dedup_keys(b"", [hour], [b"c"])
        with pytest.raises(OverflowError):
            native.dedup_keys(b"", [hour], [b"c"])
    with pytest.raises(TypeError):
        native.dedup_keys(b"", ["1"], [b"c"])
    top = 2**32 - 1
    assert native.dedup_keys(b"", [top], [b"c"]) == hashing.py_dedup_keys(b"", [top], [b"c"])


def test_random_inputs_do_not_crash_the_parser() -> None:
    for seed in range(2000):
        noise = hashlib.shake_128(seed.to_bytes(2, "big")).digest(seed % 97)
        _agree(b"MB1" + noise if seed % 2 else noise)
