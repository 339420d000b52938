import pytest
import torch

from nerfplex.config import config_from_dict
from nerfplex.engine.amp import MixedPrecision
from nerfplex.engine.trainer import Trainer
from nerfplex.errors import NerfplexError


def test_cpu_is_a_no_op():
    amp = MixedPrecision(True, "float16", torch.device("cpu"))
    assert amp.ignored and not amp.active and not amp.scaler.is_enabled()
    with amp.autocast():
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32
    assert amp.state_dict() == {}


def test_config_keys_and_values_are_checked(tiny_config):
    config = config_from_dict(
        {"trainer": {"mixed_precision": True, "mixed_precision_dtype": "float16"}}, base=tiny_config
    )
    assert config.trainer.mixed_precision and config.trainer.mixed_precision_dtype == "float16"
    with pytest.raises(NerfplexError):
        config_from_dict({"trainer": {"mixed_precision_dtype": "float8"}}, base=tiny_config)


def test_training_with_mixed_precision_on_the_cpu_equals_float32(tiny_scene, tiny_config, tmp_path, one_thread):
    config = config_from_dict(
        {"trainer": {"max_steps": 2, "eval_every": 0, "checkpoint_every": 2, "device": "cpu"}}, base=tiny_config
    )
    plain = Trainer(config, tmp_path / "plain", scene=tiny_scene)
    plain.train()
    config.trainer.mixed_precision = True
    mixed = Trainer(config, tmp_path / "mixed", scene=tiny_scene)
    mixed.train()
    for (name, a), b in zip(plain.model.state_dict().items(), mixed.model.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.mark.skipif(not torch.cuda.is_available(), reason="mixed precision needs CUDA")
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_cuda_autocast_trains(tiny_scene, tiny_config, tmp_path, dtype):
    config = config_from_dict(
        {
            "trainer": {
                "max_steps": 4,
                "eval_every": 0,
                "checkpoint_every": 4,
                "device": "cuda",
                "mixed_precision": True,
                "mixed_precision_dtype": dtype,
            }
        },
        base=tiny_config,
    )
    trainer = Trainer(config, tmp_path / dtype, scene=tiny_scene)
    assert trainer.amp.active and trainer.amp.scaler.is_enabled() == (dtype == "float16")
    values = trainer.train_step()
    assert torch.isfinite(values["loss/total"])
    metrics = trainer.train()
    assert metrics["step"] == 4
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
