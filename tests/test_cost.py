"""The cost model (fatezero_lab.cost): its anchor is docs/gpu_sd.md's H200 run, every sd-mode notebook's calls fit a
free Colab T4 at the t4 profile, and each sd-mode call prints its estimate before it runs."""

import importlib.util
import re
from pathlib import Path

import pytest

import fatezero_lab as fz
from fatezero_lab import cost
from fatezero_lab import lab as fzlab

ROOT = Path(__file__).resolve().parents[1]
GIB = 2 ** 30
T4_VRAM_GIB, T4_RAM_GIB = 14.5, 11.0  # a free Colab T4: 15 GiB of GPU memory, 12.7 GB of host memory, some headroom


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def t4_check():
    return _script("t4_check")


@pytest.fixture(scope="module")
def sd(t4_check):
    """SD v1 at full size on the meta device: shapes and parameter counts, nothing allocated."""
    return t4_check._meta_pipeline()


def test_the_anchor_is_the_measured_h200_run(sd):
    """docs/gpu_sd.md (H200, fp16, 8 frames, 512², 50 steps, recompute): 2.2 s invert, 6.7 s edit, 6.54 GiB GPU peak
    (max_memory_allocated, no CUDA context); the inputs store 11.81 GiB."""
    inv = cost.estimate_invert(sd, 8, 512, 512, 50, "recompute")
    ed = cost.estimate_edit(sd, 8, 512, 512, 50, "recompute")
    assert inv.seconds("H200") == pytest.approx(2.2, rel=0.05) and ed.seconds("H200") == pytest.approx(6.7, rel=0.05)
    assert (ed.vram - cost.CUDA_CONTEXT) / GIB == pytest.approx(6.54, rel=0.02)
    assert ed.seconds("T4") / ed.seconds("H100") == pytest.approx(989 / 65)
    assert cost.estimate_invert(sd, 8, 512, 512, 50, "inputs").store / GIB == pytest.approx(11.81, abs=0.01)
    assert "estimate, unmeasured" in ed.line() and "on a T4" in ed.line() and "on an H100" in ed.line("H100")


def test_the_check_can_fail_the_old_reconstruction_store_does_not_fit(sd):
    """The store the reconstruction-attention ablation used to keep (inputs, 50 steps) exceeds a T4's host memory."""
    assert not cost.estimate_invert(sd, 8, 512, 512, 50, "inputs").fits("T4", T4_RAM_GIB, T4_VRAM_GIB)
    assert cost.estimate_invert(sd, 8, 512, 512, 50, "recompute").fits("T4", T4_RAM_GIB, T4_VRAM_GIB)


def test_every_sd_notebook_call_fits_a_t4_at_the_t4_profile(sd, t4_check):
    frames, steps, note = fzlab.capped(8, 50, fzlab.PROFILES["t4"])  # jeep_watercolor's own: 8 frames, 50 steps
    assert (frames, steps) == (8, 25) and "50 -> 25 steps" in note
    too_big = []
    for nb, calls in t4_check.notebook_calls(frames, steps).items():
        for label, kind, p in calls:
            e = t4_check.estimate(sd, kind, p, 512)
            if not e.fits("T4", T4_RAM_GIB, T4_VRAM_GIB):
                too_big.append(f"{nb}: {label}: {e.vram / GIB:.1f} GiB VRAM, {e.ram / GIB:.1f} GiB RAM")
    assert not too_big, "\n".join(too_big)


def test_the_call_list_covers_every_notebook_that_computes(t4_check):
    """A notebook whose code calls a computing function has its calls listed (scripts/t4_check.py), and no listed
    notebook is gone."""
    computing = re.compile(r"fz\.(invert|edit|sample|reconstruct|tuning\.tune_on_clip)\(|lab\.run_variants\(")
    computes = {p.stem for p in (ROOT / "notebooks").glob("[0-9]*.py") if computing.search(p.read_text())}
    listed = set(t4_check.notebook_calls(8, 25))
    present = {p.stem for p in (ROOT / "notebooks").glob("[0-9]*.py")}
    assert computes <= listed, f"not listed in scripts/t4_check.py: {sorted(computes - listed)}"
    assert not (listed & present) - computes, f"listed but computing nothing: {sorted((listed & present) - computes)}"


def test_the_dry_run_prints_a_table_per_notebook(t4_check, capsys):
    assert t4_check.main(["--dry-run", "--notebooks", "06,10"]) == 0
    out = capsys.readouterr().out
    assert "| 06_inversion_attention_fusion | 4 |" in out and "one-shot tuning, 200 steps" in out
    assert "00_quickstart" not in out


def test_the_gpu_pass_runs_on_the_cpu_with_the_standin(t4_check, capsys):
    """scripts/gpu_check.sh's t4 stage, its measuring code on a CPU: the tiny stand-in, 2 frames, 2 steps."""
    assert t4_check.main(["--standin", "--frames", "2", "--steps", "2", "--notebooks", "00,06,03"]) == 0
    out = capsys.readouterr().out
    rows = [l for l in out.splitlines() if l.startswith("| 0") and "estimate, unmeasured" in l]
    assert len(rows) == 3 and all(re.search(r"\| \d+\.\d s \|", r) for r in rows), out  # measured seconds each


def test_each_call_prints_its_estimate_first_once(toy_pipe, capsys):
    clip = fz.toyworld.clip("a red circle on grass", frames=2, size=64)
    said = []
    cost.announce("T4", say=said.append)
    inv = fz.invert(toy_pipe, clip.frames, clip.caption, steps=2, progress=False)
    fz.reconstruct(toy_pipe, inv, progress=False)  # its inner sample() stays quiet
    fz.edit(toy_pipe, inv, "a blue circle on grass", use_inversion_attention=False, progress=False)
    assert len(said) == 3, said
    assert said[0].startswith("[cost] invert 2 frames × 2 steps") and "on a T4" in said[0]
    assert said[1].startswith("[cost] sample 2 latents") and "reconstruction pass" in said[2]
    cost.announce(None, say=said.append)
    fz.edit(toy_pipe, inv, "a blue circle on grass", progress=False)
    assert len(said) == 3
    with pytest.raises(ValueError, match="gpu must be one of"):
        cost.announce("V100")


def test_tuning_and_null_text_are_estimated(sd):
    nt = cost.estimate_invert(sd, 8, 512, 512, 25, null_text=dict(iterations=2))
    plain = cost.estimate_invert(sd, 8, 512, 512, 25)
    assert nt.rows == plain.rows + 25 * (8 + 2 * 8 * 4 + 16) and "null-text" in nt.call
    tune = cost.estimate_tuning(sd, 8, 512, 512, 200)
    assert tune.rows == 200 * 8 * 4 + 8 and tune.vram > plain.vram  # the tuned copy of the UNet, Adam, activations
