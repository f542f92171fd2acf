"""The config tree: help text on every field, ConfigError naming the field, the older self-fusion keywords."""

import dataclasses

import pytest

import fatezero_lab as fz
from fatezero_lab.config import (ConfigError, FateZeroConfig, InversionConfig, ModelDefaults, NullTextConfig,
                                 TemporalConfig)


@pytest.mark.parametrize("cls", [FateZeroConfig, TemporalConfig, InversionConfig, NullTextConfig, ModelDefaults])
def test_every_field_has_its_help_text(cls):
    for f in dataclasses.fields(cls):
        text = f.metadata.get("help", "")
        assert len(text) > 8 and "docs/" not in text, (cls.__name__, f.name)


@pytest.mark.parametrize("make, field", [
    (lambda: FateZeroConfig(blend_threshold=-0.1), "blend_threshold"),
    (lambda: FateZeroConfig(blend_threshold=2.5), "blend_threshold"),
    (lambda: FateZeroConfig(cross_replace_steps=(0.8, 0.2)), "cross_replace_steps"),
    (lambda: FateZeroConfig(mask_dilation=2), "mask_dilation"),
    (lambda: FateZeroConfig(self_fusion=""), "self_fusion"),
    (lambda: FateZeroConfig(latent_blend=True), "latent_blend"),
    (lambda: FateZeroConfig.from_dict({"blend_treshold": 0.3}), "blend_treshold"),
    (lambda: TemporalConfig(groupnorm="video"), "temporal.groupnorm"),
    (lambda: TemporalConfig(reference=(1.5,)), "temporal.reference"),
    (lambda: InversionConfig(steps=0), "steps"),
    (lambda: InversionConfig(max_side=0), "max_side"),
    (lambda: NullTextConfig(lr=0), "null_text.lr"),
])
def test_config_errors_name_their_field(make, field):
    with pytest.raises(ConfigError) as e:
        make()
    assert e.value.field == field and isinstance(e.value, ValueError)


def test_the_older_self_fusion_keywords_map_to_the_explicit_choice():
    assert FateZeroConfig().self_fusion == "masked"
    assert FateZeroConfig(fuse_self=False).self_fusion == "none"
    assert FateZeroConfig(blend_self_attention=False).self_fusion == "full_source"
    c = FateZeroConfig(blend_threshold=2.0)  # the authors' blend_th [2, 2]: no pixel passes
    assert (c.self_fusion, c.blend_threshold) == ("full_source", None)
    assert FateZeroConfig(blend_threshold=1.0).self_fusion == "full_source"
    assert FateZeroConfig(blend_threshold=0.99).self_fusion == "masked"
    assert FateZeroConfig(self_fusion="full_source").replace(blend_threshold=0.5).self_fusion == "full_source"
    assert FateZeroConfig(fuse_self=False).replace(fuse_self=True).self_fusion == "masked"
    assert FateZeroConfig.from_dict({"fuse_self": True, "blend_self_attention": False}).self_fusion == "full_source"
    names = {f.name for f in dataclasses.fields(FateZeroConfig)}
    assert "self_fusion" in names and not names & {"fuse_self", "blend_self_attention"}
    assert fz.processors.TemporalConfig is TemporalConfig is fz.TemporalConfig  # moved, still importable
