"""Shared fixtures: tiny offline pipelines built from configs; slow tests gated by FZ_SLOW=1."""

import os

import numpy as np
import pytest
import torch

torch.set_num_threads(min(2, torch.get_num_threads()))


def pytest_collection_modifyitems(config, items):
    if os.environ.get("FZ_SLOW", "") not in ("", "0"):
        return
    skip = pytest.mark.skip(reason="slow test: set FZ_SLOW=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def quiet_cost_estimates():
    """fz.lab.setup in sd mode turns on the printed cost estimates (fatezero_lab.cost) for the process: off again
    after each test, so no test's output depends on which ran before it."""
    from fatezero_lab import cost

    yield
    cost.announce(None)


@pytest.fixture(scope="session")
def tiny_config():
    from fatezero_lab.toyworld.model import ToyModelConfig

    return ToyModelConfig(vae_channels=(32, 32, 32), unet_channels=(32, 32, 32), text_dim=32, heads=2,
                          transformer_depth=1)


@pytest.fixture(scope="session")
def pipe64(tiny_config):
    """The tiny random-weight pipeline in float64: exactness tests (rounding cannot pass for a bug)."""
    from fatezero_lab.toyworld.model import build_pipeline

    pipe = build_pipeline(tiny_config, seed=0).to(dtype=torch.float64)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="session")
def clip():
    """A 2-frame toy clip of "a red circle on grass" (seed 1)."""
    import fatezero_lab as fz

    return fz.toyworld.clip("a red circle on grass", frames=2, seed=1)


@pytest.fixture(scope="session")
def tiny_pipe(tiny_config):
    """A random-weight toy-layout pipeline (fast), fp32 on CPU, DDIM scheduler with steps_offset=1."""
    from fatezero_lab.toyworld.model import build_pipeline

    pipe = build_pipeline(tiny_config, seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="session")
def tiny_folder(tiny_pipe, tiny_config, tmp_path_factory):
    from fatezero_lab.toyworld.model import save_pipeline

    folder = tmp_path_factory.mktemp("tiny_pipe")
    save_pipeline(tiny_pipe, folder, tiny_config)
    return folder


@pytest.fixture(scope="session")
def toy_pipe():
    """The shipped, trained toy model."""
    import fatezero_lab as fz

    return fz.load_pipeline("toy", device="cpu")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
