"""The paper's claims as inequalities between benchmark rows, on a small subset of the toy suite with the shipped model.

The full suite (13 cases, 50 steps) is run by ``python -m fatezero_lab bench``; its table and which claims hold are
in ``docs/benchmark.md``. Here one case per edit kind runs at 4 frames x 10 DDIM steps. A claim that does not hold
on the toy model is marked ``xfail(strict=True)`` with the measured reason — it is reported, not tuned away, and the
strict mark makes the test fail (and so asks for an update) the day the claim starts to hold.
"""

import pytest

from fatezero_lab import bench

CASES = (bench.SUITE[0], bench.SUITE[7], bench.SUITE[10])  # colour, shape, two-object
VARIANTS = {name: bench.VARIANTS[name] for name in (
    "plain DDIM edit (no fusion)", "no self fusion (cross fusion on)", "reconstruction attention (P2P)",
    "inversion attention, full source self-attn", "FateZero (masked blending)", "FateZero without spatial-temporal")}

# claim -> reason it does not hold on the toy model (measured; see docs/benchmark.md). Empty = all hold.
KNOWN_FAILURES: dict[str, str] = {
    "2b masked blending > full source self-attn on shape edits (PSNR)":
        "a tie on this 1-case, 10-step subset (23.87 vs 23.87 dB, measured 2026-11-26 with the GPU-trained model): "
        "the circle -> square edit keeps the object in place with or without the mask (centroid 0.6 px either way)",
    "2c masked blending > cross fusion alone, no self fusion (background)":
        "does not hold on the toy (measured 2026-12-08): on this subset 23.68 vs 23.73 dB of background; over the full "
        "13-case suite at 50 steps 24.37 vs 24.68 dB, no self fusion ahead on every edit kind (docs/benchmark.md)",
}

CLAIMS = [
    "1a inversion > reconstruction attention (PSNR)",
    "1b inversion > reconstruction attention (background)",
    "2a masked blending > plain edit, no cross or self fusion (background)",
    "2c masked blending > cross fusion alone, no self fusion (background)",
    "2b masked blending > full source self-attn on shape edits (PSNR)",
    "2b masked blending > full source self-attn on two-object edits (PSNR)",
    "3 spatial-temporal attention lowers flicker",
]


@pytest.fixture(scope="module")
def claims(toy_pipe):
    rows = bench.run_suite(toy_pipe, cases=CASES, variants=VARIANTS, frames=4, steps=10, progress=False)
    assert len(rows) == len(CASES) * len(VARIANTS)
    return bench.check_claims(rows)


def test_every_claim_is_measured(claims):
    for claim in CLAIMS:
        assert claims[claim] is not None, claim


@pytest.mark.parametrize("claim", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[c])) if c in KNOWN_FAILURES else c
    for c in CLAIMS])
def test_claim(claims, claim):
    assert claims[claim] is True, f"claim does not hold on the subset: {claim}"
