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

import io
from dataclasses import dataclass

import numpy as np
from copydetect import CodeFingerprint
from copydetect.utils import get_copied_slices

from grader.similarity.sources import Source

NOISE = 25          # copydetect's default noise threshold: k-gram length in token characters
GUARANTEE = 30      # a match this long is always found (winnowing window GUARANTEE - NOISE + 1)
MIN_TOKENS = 60     # matched token characters below which a pair is never flagged
THRESHOLD = 0.5     # default share at which a pair is flagged


@dataclass
class Fingerprints:
    """A submission's files fingerprinted (boilerplate removed)."""

    files: dict[str, CodeFingerprint]

    @property
    def hashes(self) -> set:
        return set().union(*(f.hashes for f in self.files.values()))

    @property
    def coverage(self) -> int:
        return int(sum(f.token_coverage for f in self.files.values()))


@dataclass
class Match:
    score_a: float
    score_b: float
    tokens_a: int
    tokens_b: int
    spans: dict  # "a" / "b" -> file -> [[start, end], ...]


def _fingerprint(name: str, text: str, boilerplate, window: int) -> CodeFingerprint:
    return CodeFingerprint(name, NOISE, window, boilerplate, language="python",
                           fp=io.StringIO(text))


def boilerplate_hashes(expected: Source) -> np.ndarray:
    """Every k-gram hash of the expected overlap (window 1: all of them, as copydetect does)."""
    hashes = [h for name, text in expected.files.items()
              for h in _fingerprint(name, text, None, 1).hashes]
    return np.unique(np.array(hashes, dtype=np.int64))


def fingerprints(source: Source, boilerplate: np.ndarray) -> Fingerprints:
    window = GUARANTEE - NOISE + 1
    return Fingerprints({name: _fingerprint(name, text, boilerplate, window)
                         for name, text in source.files.items()})


def _matched(fp: CodeFingerprint, other: set) -> tuple[int, list[list[int]]]:
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
    size = len(fp.raw_code)
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
    return Match(min(score_a, 1.0), min(score_b, 1.0), tokens_a, tokens_b,
                 {"a": spans_a, "b": spans_b})


def flagged(pair, threshold: float, min_tokens: int = MIN_TOKENS) -> bool:
    """Is `pair` (anything with score_a/b and tokens_a/b) reported at `threshold`?"""
    return max(pair.score_a, pair.score_b) >= threshold and \
        max(pair.tokens_a, pair.tokens_b) >= min_tokens
