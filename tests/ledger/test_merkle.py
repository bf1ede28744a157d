"""RFC 9162 hashing, proofs and the incremental frontier, against the RFC's recursive definition."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mamori.ledger import merkle


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 section 2.1.1 defines it, recursively."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return merkle.node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def leaves_of(n: int) -> list[bytes]:
    return [merkle.leaf_hash(str(i).encode()) for i in range(n)]


@given(st.integers(min_value=0, max_value=70))
def test_root_matches_the_recursive_definition(n: int) -> None:
    leaves = leaves_of(n)
    assert merkle.root(leaves) == reference_root(leaves)
    frontier = merkle.Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.root() == reference_root(leaves)
    again = merkle.Frontier.load(n, frontier.dump())
    assert again.root() == frontier.root()


@given(st.integers(min_value=1, max_value=40), st.data())
def test_inclusion_proofs_verify_and_tampering_fails(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n)
    top = merkle.root(leaves)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    path = merkle.inclusion_proof(index, leaves)
    merkle.verify_inclusion(index, n, leaves[index], path, top)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(index, n, merkle.leaf_hash(b"other"), path, top)
    if path:
        bent = [*path[:-1], merkle.leaf_hash(b"x")]
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index, n, leaves[index], bent, top)
    if n > 1:
        wrong = (index + 1) % n
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(wrong, n, leaves[index], path, top)


@given(st.integers(min_value=1, max_value=40), st.data())
def test_consistency_proofs_verify_and_forks_fail(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n)
    m = data.draw(st.integers(min_value=1, max_value=n))
    proof = merkle.consistency_proof(m, leaves)
    merkle.verify_consistency(m, n, merkle.root(leaves[:m]), merkle.root(leaves), proof)
    forked = [*leaves[: m - 1], merkle.leaf_hash(b"rewritten"), *leaves[m:]]
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(m, n, merkle.root(leaves[:m]), merkle.root(forked), proof)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(m, n, merkle.root(forked[:m]), merkle.root(leaves), proof)


def test_known_answer_from_rfc_style_vectors() -> None:
    # The empty tree and a one-leaf tree of the empty string (RFC 9162 section 2.1.1).
    assert merkle.root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
