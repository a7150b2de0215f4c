"""Comparing every pair of submissions with copydetect's winnowing fingerprints.

Each file is tokenized by copydetect (Pygments; names become V/F/O, strings S, comments and
whitespace dropped, so renaming variables or editing comments changes nothing), its k-grams
(`NOISE` characters of that token text) hashed and winnowed (`GUARANTEE`: a match at least
that long is always found), and every k-gram of the expected overlap (the skeleton and the
reference solution) removed as boilerplate. Fingerprints are a set, so moving functions
around changes nothing either.

A pair's `score_a` is the share of A's fingerprinted tokens found anywhere in B's files
(`tokens_a` of them), and the other way round; a pair is flagged when the higher share
reaches the threshold and at least `MIN_TOKENS` tokens match (a near-empty submission that
shares two lines with another is not "100% copied"). `spans` give, per file, the character
ranges of the stored text that match, for the side-by-side view.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
from copydetect.utils import filter_code, get_copied_slices, get_token_coverage, winnow

from grader.similarity.sources import Source

NOISE = 25  # copydetect's default noise threshold: k-gram length in token characters
GUARANTEE = 30  # a match this long is always found (winnowing window GUARANTEE - NOISE + 1)
MIN_TOKENS = 60  # matched token characters below which a pair is never flagged
THRESHOLD = 0.5  # default share at which a pair is flagged


@dataclass
class FileFingerprint:
    """One file: its text, copydetect's filtered token text and offsets back into the text,
    its winnowed fingerprints (hash -> positions in the token text) and their coverage."""

    text: str
    offsets: np.ndarray
    hash_idx: dict[int, list[int]]
    coverage: int
    k: int = NOISE

    @property
    def hashes(self) -> set[int]:
        return set(self.hash_idx)


@dataclass
class Fingerprints:
    """A submission's files fingerprinted (boilerplate removed)."""

    files: dict[str, FileFingerprint]

    @functools.cached_property
    def hashes(self) -> set:
        return set().union(*(f.hashes for f in self.files.values()))

    @property
    def coverage(self) -> int:
        return sum(f.coverage for f in self.files.values())


@dataclass
class Match:
    score_a: float
    score_b: float
    tokens_a: int
    tokens_b: int
    spans: dict  # "a" / "b" -> file -> [[start, end], ...]


def _kgram_hashes(tokens: str, k: int) -> np.ndarray:
    """A stable 64-bit hash of every k-gram (copydetect uses Python's `hash`, which changes
    from one process to the next: the winnowed sample, and so the shares, would too)."""
    return np.array(
        [
            int.from_bytes(
                hashlib.blake2b(tokens[i : i + k].encode(), digest_size=8).digest(),
                "big",
                signed=True,
            )
            for i in range(len(tokens) - k + 1)
        ],
        dtype=np.int64,
    )


def _fingerprint(name: str, text: str, boilerplate: np.ndarray, window: int) -> FileFingerprint:
    """copydetect's CodeFingerprint, with stable hashes: tokens filtered by copydetect,
    winnowed by copydetect, boilerplate removed and coverage counted as it does."""
    tokens, offsets = filter_code(text, name, "python")
    hashes = _kgram_hashes(tokens, NOISE)
    if len(hashes):
        hashes, idx = winnow(hashes, window, remove_duplicates=False)
    else:
        idx = np.array([], dtype=np.int64)
    keep = ~np.isin(hashes, boilerplate)
    hash_idx: dict[int, list[int]] = {}
    for h, i in zip(hashes[keep].tolist(), idx[keep].tolist()):
        hash_idx.setdefault(h, []).append(i)
    return FileFingerprint(
        text, offsets, hash_idx, int(get_token_coverage(hash_idx, NOISE, len(tokens)))
    )


def boilerplate_hashes(expected: Source) -> np.ndarray:
    """Every k-gram hash of the expected overlap (window 1: all of them, as copydetect does)."""
    none = np.array([], dtype=np.int64)
    hashes = [
        h for name, text in expected.files.items() for h in _fingerprint(name, text, none, 1).hashes
    ]
    return np.unique(np.array(hashes, dtype=np.int64))


def fingerprints(source: Source, boilerplate: np.ndarray) -> Fingerprints:
    window = GUARANTEE - NOISE + 1
    return Fingerprints(
        {name: _fingerprint(name, text, boilerplate, window) for name, text in source.files.items()}
    )


def _matched(fp: FileFingerprint, other: set) -> tuple[int, list[list[int]]]:
    """Token characters of `fp` whose fingerprints are in `other`, and the matching character
    ranges of its original text (copydetect's slices, mapped back through its offsets)."""
    common = fp.hashes & other
    if not common:
        return 0, []
    idx = np.concatenate([np.asarray(fp.hash_idx[h]) for h in common])
    slices = get_copied_slices(idx, fp.k).astype(np.int64)
    tokens = int(np.sum(slices[1] - slices[0]))
    if len(fp.offsets) > 0:
        at = np.clip(np.searchsorted(fp.offsets[:, 0], slices), 0, fp.offsets.shape[0] - 1)
        slices = slices + fp.offsets[:, 1][at]
    size = len(fp.text)
    ranges = [[int(min(s, size)), int(min(e, size))] for s, e in zip(slices[0], slices[1])]
    return tokens, [r for r in ranges if r[1] > r[0]]


def _side(a: Fingerprints, b_hashes: set) -> tuple[float, int, dict]:
    tokens, spans = 0, {}
    for name, fp in a.files.items():
        n, ranges = _matched(fp, b_hashes)
        tokens += n
        if ranges:
            spans[name] = ranges
    return (tokens / a.coverage if a.coverage else 0.0), tokens, spans


def compare(a: Fingerprints, b: Fingerprints) -> Match:
    """How much of A is in B and of B in A."""
    score_a, tokens_a, spans_a = _side(a, b.hashes)
    score_b, tokens_b, spans_b = _side(b, a.hashes)
    return Match(
        min(score_a, 1.0), min(score_b, 1.0), tokens_a, tokens_b, {"a": spans_a, "b": spans_b}
    )


def flagged(pair, threshold: float, min_tokens: int = MIN_TOKENS) -> bool:
    """Is `pair` (anything with score_a/b and tokens_a/b) reported at `threshold`?"""
    return (
        max(pair.score_a, pair.score_b) >= threshold
        and max(pair.tokens_a, pair.tokens_b) >= min_tokens
    )
