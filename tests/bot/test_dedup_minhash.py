"""The hand-rolled MinHash gives datasketch's values bit for bit: signatures are stored, so
any drift would split stories."""

from __future__ import annotations

import numpy as np
from datasketch import MinHash
from datasketch.hashfunc import sha1_hash32
from datasketch.minhash import _fmix
from hypothesis import given
from hypothesis import strategies as st

from bot import dedup

_FEATURES = st.lists(st.text(max_size=12), max_size=80, unique=True)


def _datasketch(features: list[str]) -> tuple[int, ...]:
    """The MinHash as `signature` built it before: datasketch's own update_batch."""
    minhash = MinHash(
        num_perm=dedup.NUM_PERM,
        hashfunc=sha1_hash32,
        permutations=dedup._permutations(),
        scheme="affine32",
    )
    minhash.update_batch([f.encode() for f in features])
    return tuple(int(v) for v in minhash.hashvalues)


@given(st.text(max_size=40))
def test_feature_hash_is_datasketchs_premixed_sha1(feature: str) -> None:
    """`_feature_hash` is sha1_hash32 then datasketch's 32-bit MurmurHash3 finalizer."""
    expected = _fmix(np.array([sha1_hash32(feature.encode())], dtype=np.uint32), 32)
    assert dedup._feature_hash(feature) == int(expected[0])


@given(_FEATURES, st.sampled_from(["en", "uk-UA", " RU_ru ", ""]))
def test_vectorised_minhash_equals_datasketch(features: list[str], language: str) -> None:
    """The signature's values are datasketch's MinHash of the same salted features."""
    title = " ".join(features)
    sig = dedup.signature(title, "", language)
    salt = dedup._salt(language)
    _, _, _, read = dedup._read(title, "")
    assert sig.values == _datasketch([f"{salt}|{f}" for f in read])


def test_no_feature_gives_datasketchs_empty_minhash() -> None:
    """A report of stop words only has datasketch's untouched MinHash and no band key."""
    sig = dedup.signature("the and of", "", "en")
    assert sig.values == _datasketch([])
    assert sig.empty
    assert dedup.band_keys(sig) == ()
