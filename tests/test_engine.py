"""The FateZero engine on tiny offline components: processors, store, masks, fusion, replay order, restoration."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import fatezero_lab as fz
from fatezero_lab.masks import mask_from_maps
from fatezero_lab.processors import AttentionControl, FateZeroAttnProcessor, TemporalConfig, \
    attention_control, explicit_attention, gather_frames
from fatezero_lab.prompts import Alignment, align
from fatezero_lab.store import SourceAttention


def _unet_inputs(pipe, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, 4, 16, 16, generator=g)
    emb = fz.encode_prompt(pipe, "a red circle and a blue square on grass").expand(batch, -1, -1)
    return z, emb


@torch.no_grad()
def test_explicit_path_matches_diffusers_sdpa(tiny_pipe):
    z, emb = _unet_inputs(tiny_pipe)
    ref = tiny_pipe.unet(z, 500, encoder_hidden_states=emb).sample  # diffusers' own AttnProcessor2_0
    for explicit in (False, True):
        with attention_control(tiny_pipe.unet, AttentionControl(2, temporal=False, explicit=explicit)):
            out = tiny_pipe.unet(z, 500, encoder_hidden_states=emb).sample
        assert (out - ref).abs().max().item() <= 1e-5


@torch.no_grad()
def test_temporal_with_self_reference_or_one_frame_equals_plain(tiny_pipe):
    z, emb = _unet_inputs(tiny_pipe, batch=3)
    plain = tiny_pipe.unet(z, 300, encoder_hidden_states=emb).sample
    self_only = TemporalConfig(reference=("self",), groupnorm="frame")
    with attention_control(tiny_pipe.unet, AttentionControl(3, temporal=self_only)):
        same = tiny_pipe.unet(z, 300, encoder_hidden_states=emb).sample
    assert (same - plain).abs().max().item() <= 1e-5
    with attention_control(tiny_pipe.unet, AttentionControl(3, temporal=True)):
        temporal = tiny_pipe.unet(z, 300, encoder_hidden_states=emb).sample
    assert (temporal - plain).abs().max().item() > 1e-4  # first+previous really changes frames 1..2
    # one frame: first = previous = itself
    with attention_control(tiny_pipe.unet, AttentionControl(1, temporal=True)):
        one = tiny_pipe.unet(z[:1], 300, encoder_hidden_states=emb[:1]).sample
    assert (one - plain[:1]).abs().max().item() <= 1e-5


def test_clip_group_norm_equals_torch_groupnorm_on_a_clip_tensor():
    """clip_group_norm on (groups*frames, C, h, w) = nn.GroupNorm on the reference's (groups, C, frames, h, w)."""
    from fatezero_lab.processors import clip_group_norm

    g = torch.Generator().manual_seed(0)
    norm = torch.nn.GroupNorm(4, 8)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(8, generator=g))
        norm.bias.copy_(torch.randn(8, generator=g))
    x = torch.randn(2 * 3, 8, 5, 4, generator=g) * torch.arange(1, 7).view(6, 1, 1, 1)  # frames differ in scale
    clip = x.view(2, 3, 8, 5, 4).transpose(1, 2)  # (groups, C, frames, h, w)
    want = norm(clip).transpose(1, 2).reshape(6, 8, 5, 4)
    got = clip_group_norm(x, norm, 3)
    assert torch.allclose(got, want, atol=1e-5)
    assert not torch.allclose(got, norm(x), atol=1e-3)  # per-frame statistics really differ here


@torch.no_grad()
def test_clip_groupnorm_pools_each_guidance_group_and_is_removed_on_exit(tiny_pipe):
    z, emb = _unet_inputs(tiny_pipe, batch=3)
    plain = tiny_pipe.unet(z, 300, encoder_hidden_states=emb).sample
    off = TemporalConfig(enabled=False).resolved(fz.ModelDefaults())
    assert off.groupnorm == "frame" and TemporalConfig().resolved(fz.ModelDefaults()).groupnorm == "clip"
    assert TemporalConfig().groupnorm is None  # left to the model until an entry point resolves it
    with attention_control(tiny_pipe.unet, AttentionControl(3, temporal=TemporalConfig(enabled=False,
                                                                                        groupnorm="clip"))):
        pooled = tiny_pipe.unet(z, 300, encoder_hidden_states=emb).sample
        twice = tiny_pipe.unet(torch.cat([z, z]), 300, encoder_hidden_states=torch.cat([emb, emb])).sample
    assert (pooled - plain).abs().max().item() > 1e-4  # the frames' statistics are pooled
    assert (twice - torch.cat([pooled, pooled])).abs().max().item() <= 1e-5  # each group of 3 frames on its own
    same = tiny_pipe.unet(z, 300, encoder_hidden_states=emb).sample  # hooks gone after the context
    assert (same - plain).abs().max().item() == 0
    with attention_control(tiny_pipe.unet, AttentionControl(3, temporal=off)):
        assert (tiny_pipe.unet(z, 300, encoder_hidden_states=emb).sample - plain).abs().max().item() <= 1e-5
    with pytest.raises(ValueError, match="groupnorm"):
        TemporalConfig(groupnorm="video")


def test_reference_frame_indices():
    idx = TemporalConfig(reference=("first", "previous")).frame_indices(4)
    assert idx.tolist() == [[0, 0], [0, 0], [0, 1], [0, 2]]
    assert TemporalConfig(reference="all").frame_indices(3).tolist() == [[0, 1, 2]] * 3
    x = torch.arange(2 * 3, dtype=torch.float32).view(6, 1, 1, 1)  # (groups*frames, heads, m, d)
    g = gather_frames(x, 3, TemporalConfig().frame_indices(3))
    assert g.view(2, 3, 2).tolist() == [[[0, 0], [0, 0], [0, 1]], [[3, 3], [3, 3], [3, 4]]]


def test_masked_output_fusion_equals_explicit_map_blend():
    g = torch.Generator().manual_seed(0)
    frames, heads, n, m, d = 2, 2, 16, 32, 8
    q, k, v = (torch.randn(frames, heads, s, d, generator=g) for s in (n, m, m))
    qs, ks = torch.randn(frames, heads, n, d, generator=g), torch.randn(frames, heads, m, d, generator=g)
    mask = (torch.rand(frames, 1, n, 1, generator=g) > 0.5).float()
    scale = d ** -0.5
    fast = mask * F.scaled_dot_product_attention(q, k, v, scale=scale) + \
        (1 - mask) * SourceAttention(scale, q=qs, k=ks).apply(v)
    _, p_edit = explicit_attention(q, k, v, scale)
    p_src = SourceAttention(scale, q=qs, k=ks).probabilities()
    explicit = torch.matmul(mask * p_edit + (1 - mask) * p_src, v)
    assert (fast - explicit).abs().max().item() <= 1e-5


def test_stored_fp16_queries_give_float32_accurate_probabilities():
    # logits of ~±1e5: q·kᵀ overflows fp16 (max 65504) unless upcast, as in SD 2.x's upcast_attention layers
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 2, 4, 8, generator=g) * 200, torch.randn(1, 2, 5, 8, generator=g) * 200
    q, k = q.half().float(), k.half().float()  # values exactly representable in fp16
    ref = SourceAttention(1.0, q=q, k=k).probabilities()
    half = SourceAttention(1.0, q=q.half(), k=k.half()).probabilities()
    assert half.dtype == torch.float16 and torch.isfinite(half).all()
    assert (half.float() - ref).abs().max().item() <= 1e-3


def test_mask_recipe_hand_computed():
    # one frame, one head, a 2x2 query grid, tokens [BOS, a, circle]; the word is token 2
    a = torch.tensor([[[[0.5, 0.1, 0.4], [0.9, 0.1, 0.0], [0.8, 0.1, 0.1], [0.6, 0.2, 0.2]]]])  # (1, 1, 4, 3)
    b = torch.tensor([[[[0.2, 0.0, 0.8], [0.9, 0.1, 0.0], [0.7, 0.1, 0.2], [0.6, 0.0, 0.4]]]])
    st = mask_from_maps([a, b], [(2, 2), (2, 2)], [2], (4, 4), threshold=0.3, dilation=1, normalise="max")
    mean = torch.tensor([[0.6, 0.0], [0.15, 0.3]])  # ((0.4+0.8)/2, 0, (0.1+0.2)/2, (0.2+0.4)/2)
    torch.testing.assert_close(st["mean"][0], mean)
    expected_norm = torch.tensor([[1.0, 0.0], [0.25, 0.5]])
    up = expected_norm.repeat_interleave(2, 0).repeat_interleave(2, 1)  # nearest upsample to 4x4
    torch.testing.assert_close(st["normalised"][0], up)
    assert st["mask"][0].tolist() == (up > 0.3).tolist()
    # a 3x3 max-pool dilates the peak over the whole 2x2 grid
    st = mask_from_maps([a, b], [(2, 2), (2, 2)], [2], (2, 2), threshold=0.3, dilation=3)
    assert st["mask"].all()
    st = mask_from_maps([a, b], [(2, 2), (2, 2)], [2], (2, 2), threshold=0.3, dilation=1, normalise="minmax")
    torch.testing.assert_close(st["normalised"][0], torch.tensor([[1.0, 0.0], [0.25, 0.5]]))


def test_prompt_alignment_refine_and_replace(tiny_pipe):
    tok = tiny_pipe.tokenizer
    rep = align(tok, "a red circle on grass", "a blue circle on grass", "replace")
    assert rep.mode == "replace"
    ref = align(tok, "a red circle on grass", "a red circle and a blue square on grass", "auto")
    assert ref.mode == "refine"
    # target: BOS a red circle and a blue square on grass EOS ; source: BOS a red circle on grass EOS
    assert ref.mapper[:4].tolist() == [0, 1, 2, 3] and ref.alpha[4:8].tolist() == [0, 0, 0, 0]
    assert ref.mapper[8].item() == 4 and ref.mapper[9].item() == 5 and ref.mapper[10].item() == 6
    with pytest.raises(ValueError, match="same number of tokens"):
        align(tok, "a red circle on grass", "a red circle and a blue square on grass", "replace")


@pytest.fixture(scope="module")
def small_inversion(tiny_pipe):
    clip = fz.toyworld.clip("a red circle on grass", frames=3, seed=0)
    return fz.invert(tiny_pipe, clip.frames, clip.caption, steps=4, progress=False)


def test_store_inspection_api(small_inversion, tiny_pipe):
    store = small_inversion.store
    assert store.steps == 4 and store.n_frames == 3
    table = store.layer_table()
    assert {r["kind"] for r in table} == {"self", "cross"} and all(r["heads"] > 0 for r in table)
    ca = store.cross_attention("circle", step=1)
    assert ca.shape == (3, 16, 16) and np.isfinite(ca).all()
    avg = store.cross_attention(["red", "circle"])  # averaged over every step
    assert avg.shape == (3, 16, 16)
    sa = store.self_attention((4, 5), frame=2, step=0)
    assert sa["frames"] == [0, 1] and sa["maps"].shape == (2, 16, 16)
    assert abs(sa["maps"].sum() - 1.0) < 1e-4
    assert store.nbytes() > 0 and "AttentionStore" in repr(store)
    with pytest.raises(ValueError, match="words are: a, red, circle, on, grass"):
        store.cross_attention("jeep", step=0)
    with pytest.raises(ValueError, match="outside the store's steps"):
        store.cross_attention("circle", step=4)
    with pytest.raises(ValueError, match="not a recorded cross-attention layer; choose from"):
        store.cross_attention("circle", step=0, layers="nope")
    with pytest.raises(ValueError, match="outside layer"):
        store.self_attention((40, 0), step=0)


@pytest.mark.parametrize("reference, keys_of_frame_2", [(("mid",), [1]), (("first", "previous"), [0, 1])])
def test_self_attention_explorer_names_the_key_frames(tiny_pipe, reference, keys_of_frame_2):
    """Issue 31 item 3: with one reference frame ('mid', the authors' zero-shot configs) the explorer said "keys from
    frame f" (the query's own frame); the keys are the middle frame's. The store asserts that the frames it names
    are as many as the recorded key blocks."""
    clip = fz.toyworld.clip("a red circle on grass", frames=3, seed=0)
    temporal = fz.TemporalConfig(reference=reference)
    store = fz.invert(tiny_pipe, clip.frames, clip.caption, steps=2, temporal=temporal, progress=False).store
    sa = store.self_attention((4, 5), frame=2, step=0)
    assert sa["frames"] == keys_of_frame_2 and sa["maps"].shape == (len(keys_of_frame_2), 16, 16)
    assert abs(sa["maps"].sum() - 1.0) < 1e-4
    plain = fz.invert(tiny_pipe, clip.frames, clip.caption, steps=2, temporal=False, progress=False).store
    assert plain.self_attention((4, 5), frame=2, step=0)["frames"] == [2]  # per-frame: the query's own frame


def test_blend_mask_returns_every_stage(small_inversion):
    m = fz.blend_mask(small_inversion.store, ["circle"], step=2, threshold=0.3)
    assert m.mask.dtype == bool and m.mask.shape == (3, 16, 16)
    assert list(m.stages())[0].startswith("sum") and len(m.stages()) == 5
    assert m.per_layer.shape[0] == len(m.layers)


class _StepSpy:
    """Wraps a store and records which source steps editing asks for."""

    def __init__(self, store):
        self.store, self.asked = store, []

    def __getattr__(self, name):
        return getattr(self.store, name)

    def source(self, step):
        self.asked.append(step)
        return self.store.source(step)


def test_replay_order_is_reversed(tiny_pipe, small_inversion):
    import dataclasses

    spy = _StepSpy(small_inversion.store)
    inv = dataclasses.replace(small_inversion, store=spy)
    fz.edit(tiny_pipe, inv, "a blue circle on grass", progress=False)
    assert spy.asked == [3, 2, 1, 0]  # edit step i replays inversion step T-1-i (same timestep)
    assert [small_inversion.store.timesteps[j] for j in spy.asked] == sorted(small_inversion.timesteps, reverse=True)


def test_cache_modes_give_identical_edits(tiny_config):
    # In float64: the three modes compute the same attention in a different order, and a random UNet amplifies fp32
    # rounding to 4e-5 .. 1.6e-4 (varies from process to process), so fp32 cannot tell rounding from a bug.
    from fatezero_lab.toyworld.model import build_pipeline

    pipe = build_pipeline(tiny_config, seed=0).to(dtype=torch.float64)
    pipe.set_progress_bar_config(disable=True)
    clip = fz.toyworld.clip("a red circle on grass", frames=2, seed=1)
    outs, blended, masks = {}, {}, {}
    for cache in ("maps", "inputs", "recompute"):
        inv = fz.invert(pipe, clip.frames, clip.caption, steps=5, cache=cache, progress=False)
        out = fz.edit(pipe, inv, "a blue circle on grass", blend_words=["circle"], progress=False)
        outs[cache], masks[cache] = out.frames, out.masks
        blended[cache] = fz.edit(pipe, inv, "a blue circle on grass", blend_words=["circle"], latent_blend=True,
                                 latent_blend_threshold=0.95,  # random maps are flat: 0.9 passes every pixel
                                 target_blend_words=["blue"], progress=False).frames
    for cache in ("inputs", "recompute"):  # recompute: the source rows run inside the edit's own UNet calls
        assert np.abs(outs["maps"] - outs[cache]).max() <= 1e-6, cache
        assert np.abs(blended["maps"] - blended[cache]).max() <= 1e-6, cache
        assert masks[cache].keys() == masks["maps"].keys() and all(
            np.array_equal(masks[cache][k], masks["maps"][k]) for k in masks["maps"]), cache
    assert np.abs(outs["maps"] - clip.frames).max() > 1e-2  # the edit did something
    assert np.abs(outs["maps"] - blended["maps"]).max() > 1e-3  # and latent blend changed it


def test_reconstruction_attention_edits_are_identical_in_every_store_mode(pipe64, clip):
    """use_inversion_attention=False: the reconstruction pass keeps its store in the inversion's mode — after a
    recompute inversion only its latents and the mask maps, the edit replaying ε_θ(z̄_i, t_i, p_src) as extra rows —
    and the edits are the maps path's (float64: rounding cannot pass for a bug)."""
    from fatezero_lab import memory

    kw = dict(blend_words=["circle"], use_inversion_attention=False, progress=False)
    invs = {c: fz.invert(pipe64, clip.frames, clip.caption, steps=4, cache=c, progress=False)
            for c in ("maps", "inputs", "recompute")}
    # a mask layer the recompute inversion did not keep: the reconstruction pass keeps the edit's own mask layers
    other = [n for n in invs["maps"].store.layer_names("cross") if n not in invs["recompute"].store.summarised_layers()]
    outs = {c: [fz.edit(pipe64, inv, "a blue circle on grass", **kw),
                fz.edit(pipe64, inv, "a blue circle on grass", mask_layers=other[:1], latent_blend=True,
                        latent_blend_threshold=0.95, target_blend_words=["blue"], **kw)] for c, inv in invs.items()}
    f, h, w, _ = clip.frames.shape
    for cache, (out, _) in outs.items():
        store = out.source_store
        assert store.cache == memory.reconstruction_cache(cache) == cache and store.order == "forward"
        assert store.nbytes() == memory.estimate_memory(pipe64, f, h, w, 4, cache=cache,
                                                        prompt_tokens=len(store.tokens)).store_bytes, cache
    assert outs["maps"][0].source_store.nbytes() > 20 * outs["recompute"][0].source_store.nbytes()
    for cache in ("inputs", "recompute"):
        for got, want in zip(outs[cache], outs["maps"]):
            assert np.abs(got.frames - want.frames).max() <= 1e-6, cache
            assert got.masks.keys() == want.masks.keys() and all(
                np.array_equal(got.masks[k], want.masks[k]) for k in want.masks), cache
    # the inspection API of a recompute reconstruction store recomputes what the maps store kept
    rec, kept = outs["recompute"][0].source_store, outs["maps"][0].source_store
    for name in (rec.layer_names("self")[0], rec.layer_names("cross")[-1]):
        assert torch.allclose(rec.layer_map(2, name), kept.layer_map(2, name), atol=1e-12)
    fused = fz.edit(pipe64, invs["maps"], "a blue circle on grass", blend_words=["circle"], progress=False)
    assert np.abs(fused.frames - outs["maps"][0].frames).max() > 1e-3  # the ablation is another edit


def test_config_roundtrip_and_result(tiny_pipe, small_inversion):
    out = fz.edit(tiny_pipe, small_inversion, "a blue circle on grass", blend_words=["circle"],
                  reweight={"blue": 2.0}, progress=False)
    assert out.frames.shape == (3, 64, 64, 3)
    cfg = fz.FateZeroConfig.from_json(out.config.to_json())
    assert cfg == out.config
    assert fz.FateZeroConfig.from_yaml(out.config.to_yaml()) == out.config
    assert set(out.masks) == {0, 1}  # self_replace_steps 0.6 of 4 steps: int(0.6·4) = 2, steps 0..1 use M_t (reference)


def test_config_fields_left_to_the_model_resolve_from_its_defaults():
    cfg = fz.FateZeroConfig()
    sd = cfg.resolved(fz.ModelDefaults())  # Stable Diffusion: the reference's values
    assert (sd.cross_replace_steps, sd.cross_mode, sd.blend_threshold, sd.mask_normalise) == ((0.0, 0.8), "refine",
                                                                                              0.3, "max")
    toy = cfg.resolved(fz.ModelDefaults(cross_replace_steps=0.5, cross_mode="auto", blend_threshold=0.4))
    assert (toy.cross_replace_steps, toy.cross_mode, toy.blend_threshold) == ((0.0, 0.5), "auto", 0.4)
    mine = cfg.replace(cross_mode="refine", cross_replace_steps=0.2).resolved(
        fz.ModelDefaults(cross_replace_steps=0.5, cross_mode="auto"))
    assert (mine.cross_replace_steps, mine.cross_mode) == ((0.0, 0.2), "refine")  # what the user set wins


def _originals(unet):
    return {k: type(v) for k, v in unet.attn_processors.items()}


def test_processors_restored_after_success_exception_and_interrupt(tiny_pipe, small_inversion, monkeypatch):
    before = _originals(tiny_pipe.unet)
    fz.edit(tiny_pipe, small_inversion, "a blue circle on grass", progress=False)
    assert _originals(tiny_pipe.unet) == before
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        calls = {"n": 0}
        real_step = type(tiny_pipe.scheduler).step

        def failing_step(self, *a, **k):
            calls["n"] += 1
            if calls["n"] == 2:
                raise exc
            return real_step(self, *a, **k)

        monkeypatch.setattr(type(tiny_pipe.scheduler), "step", failing_step)
        with pytest.raises(type(exc)):
            fz.edit(tiny_pipe, small_inversion, "a blue circle on grass", progress=False)
        monkeypatch.undo()
        assert calls["n"] == 2
        assert _originals(tiny_pipe.unet) == before
        assert not any(isinstance(p, FateZeroAttnProcessor) for p in tiny_pipe.unet.attn_processors.values())


def test_sizes_not_a_multiple_of_the_unet_downsampling_are_edited_on_exact_grids(tiny_pipe):
    """72x72 on the toy layout: latents 18x18, the UNet's grids 18 -> 9 -> 5 (it rounds up); the layer grids must
    be inferred the same way (floor division gave 4x4 and a shape error mid-edit)."""
    frames = np.random.default_rng(0).uniform(0.2, 0.8, (2, 72, 72, 3)).astype(np.float32)
    outs = {}
    for cache in ("maps", "recompute"):
        inv = fz.invert(tiny_pipe, frames, "a red circle on grass", steps=3, cache=cache, progress=False)
        assert (5, 5) in {l.resolution for l in inv.store.layers.values()}
        out = fz.edit(tiny_pipe, inv, "a blue circle on grass", blend_words=["circle"], latent_blend=True,
                      progress=False)
        outs[cache] = out.frames
    assert outs["maps"].shape == (2, 72, 72, 3)
    assert np.abs(outs["maps"] - outs["recompute"]).max() < 1e-3
    from fatezero_lab.processors import grid_at  # SD at 520 px: latents 65 -> 33 -> 17 -> 9

    assert [grid_at((65, 65), n * n) for n in (65, 33, 17, 9)] == [(65, 65), (33, 33), (17, 17), (9, 9)]
    assert grid_at((65, 97), 9 * 13) == (9, 13)


def test_step_windows_count_as_the_reference():
    """FateZero's reference: self window int(f*N), cross window int(f*(N+1)), latent blend start < i+1 < end."""
    from fatezero_lab.config import step_range

    assert step_range((0.0, 0.55), 10) == range(0, 5)  # self-attention, 10 steps x 0.55: 5 steps (was 6)
    assert step_range((0.0, 0.55), 11) == range(0, 6)  # cross-attention
    assert step_range((0.0, 0.8), 51) == range(0, 40) and step_range((0.0, 0.6), 50) == range(0, 30)
    cfg = fz.FateZeroConfig(latent_blend=True, blend_words=["circle"])

    class _Store:  # the least EditControl reads at construction
        n_frames, temporal, cache = 2, fz.TemporalConfig(enabled=False), "maps"

        def layer_names(self, kind):
            return []

    alignment = Alignment("replace", torch.arange(3), torch.ones(3))  # the cross rule is built at construction
    plan = fz.editing.EditPlan(cfg=cfg.resolved(fz.ModelDefaults()), target_prompt="", alignment=alignment,
                               reweight=None, blend_idx=[1], target_blend_idx=[], mask_override=None)
    control = fz.editing.EditControl(_Store(), plan, (8, 8), steps=10)
    assert control.blend_steps == range(2, 7)  # latent blend (0.2, 0.8) of 10 steps: i+1 in 3..7
    assert control.self_steps == range(0, 6) and control.cross_steps == range(0, 8)


def test_temporal_reference_frames_speak_the_reference_vocabulary():
    """The authors' SparseCausalAttention_index entries: 'first', 'last', 'mid', int offsets (clipped)."""
    idx = lambda *ref: TemporalConfig(reference=ref).frame_indices(4).tolist()  # noqa: E731
    assert idx("mid") == [[1], [1], [1], [1]]  # their zero-shot configs: every frame reads the middle frame only
    assert idx(-1, "first") == [[0, 0], [0, 0], [1, 0], [2, 0]]  # their code default [-1, 'first']
    assert idx("previous", "first") == idx(-1, "first")
    assert idx(1, "last") == [[1, 3], [2, 3], [3, 3], [3, 3]] and idx("next") == idx(1)
    assert TemporalConfig(reference=("middle",)).reference == ("mid",)
    with pytest.raises(ValueError, match="invalid"):
        TemporalConfig(reference=(1.5,))


def test_refine_tail_follows_the_reference_by_default(tiny_pipe):
    """The authors' refine mapper: target EOS reads source EOS, every later position k reads source position k
    (measured equal to theirs, docs/reference_parity.md); ours, aligning the padding from the end, is an option."""
    tok = tiny_pipe.tokenizer
    src, tgt = "a red circle on grass", "a red circle and a blue square on grass"  # 7 and 11 tokens
    ref, mine = align(tok, src, tgt, "refine"), align(tok, src, tgt, "refine", tail="from_end")
    assert ref.mapper[10] == mine.mapper[10] == 6  # EOS -> EOS
    assert ref.mapper[11:].tolist() == list(range(11, tok.model_max_length))
    assert mine.mapper[11:].tolist() == [min(7 + k, tok.model_max_length - 1) for k in range(tok.model_max_length - 11)]
    assert ref.mapper[:10].tolist() == mine.mapper[:10].tolist() and torch.equal(ref.alpha, mine.alpha)
    with pytest.raises(ValueError, match="refine_tail must be"):
        fz.FateZeroConfig(refine_tail="sideways")


def test_latent_blend_modes(tiny_pipe, small_inversion):
    """Reference mode (the authors': target maps summed over steps, z_src one level noisier) is the default; the
    aligned mode is one argument away and gives a different edit."""
    kw = dict(blend_words=["circle"], target_blend_words=["blue"], latent_blend=True, latent_blend_steps=(0.0, 1.0),
              latent_blend_threshold=0.9, progress=False)
    ref = fz.edit(tiny_pipe, small_inversion, "a blue circle on grass", **kw)
    aligned = fz.edit(tiny_pipe, small_inversion, "a blue circle on grass", latent_blend_mode="aligned", **kw)
    assert ref.config.latent_blend_mode == "reference"
    assert np.abs(ref.frames - aligned.frames).max() > 1e-4
    store = small_inversion.store
    assert len(store.latents) == store.steps + 1  # z_T kept for the first step's noisier source latent
    assert store.source_latent_after(0, noisier=True) is store.latents[-1]
    assert store.source_latent_after(0) is store.latents[-2]

