import pytest
import torch
from tiny_hf_models import save_tiny_t5
from transformers import AutoTokenizer, T5EncoderModel

from audiocraft.modules.conditioners import ConditioningAttributes, ConditioningProvider
from audiocraft.modules.conditioners.text import T5Conditioner


@pytest.fixture(scope="module")
def t5_folder(tmp_path_factory):
    return save_tiny_t5(tmp_path_factory.mktemp("t5"))


def test_matches_encoder_and_null_is_zero(t5_folder):
    cond = T5Conditioner(str(t5_folder), output_dim=8)
    assert cond.dim == 16
    texts = ["calm piano with drums", None, "jazz"]
    inputs = cond.tokenize(texts)
    emb, mask = cond(inputs)
    assert emb.shape[:2] == mask.shape and emb.shape[-1] == 8
    assert mask[1].sum() == 0 and emb[1].abs().sum() == 0
    tok = AutoTokenizer.from_pretrained(str(t5_folder))
    ref_in = tok(["calm piano with drums", "", "jazz"], return_tensors="pt", padding=True)
    t5 = T5EncoderModel.from_pretrained(str(t5_folder)).eval()
    hidden = t5(**ref_in).last_hidden_state
    expected = cond.output_proj(hidden) * ref_in["attention_mask"][..., None]
    torch.testing.assert_close(emb[[0, 2]], expected[[0, 2]], atol=1e-6, rtol=1e-5)
    assert (emb[2, mask[2].sum():] == 0).all()


def test_frozen_not_in_state_dict_unless_finetuned(t5_folder):
    frozen = T5Conditioner(str(t5_folder), output_dim=8)
    frozen(frozen.tokenize(["rock"]))
    assert set(frozen.state_dict()) == {"output_proj.weight", "output_proj.bias"}
    assert all(not p.requires_grad for p in frozen.encoder.parameters())
    emb, _ = frozen(frozen.tokenize(["rock guitar"]))
    emb.sum().backward()
    assert frozen.output_proj.weight.grad is not None
    tuned = T5Conditioner(str(t5_folder), output_dim=8, finetune=True)
    tuned(tuned.tokenize(["rock"]))
    assert any(k.startswith("t5.") for k in tuned.state_dict())
    assert any(p.requires_grad for p in tuned.t5.parameters())


def test_word_dropout_only_in_training(t5_folder):
    cond = T5Conditioner(str(t5_folder), output_dim=8, word_dropout=1.0)
    cond.eval()
    assert cond.tokenize(["rock guitar"])["attention_mask"].sum() > 0
    cond.train()
    assert cond.tokenize(["rock guitar"])["attention_mask"].sum() == 0  # all words dropped


def test_in_provider(t5_folder):
    provider = ConditioningProvider({"description": T5Conditioner(str(t5_folder), output_dim=8)})
    out = provider(provider.tokenize([ConditioningAttributes(text={"description": "sad bass"}),
                                      ConditioningAttributes()]))
    emb, mask = out["description"]
    assert emb.shape[0] == 2 and mask[1].sum() == 0


def test_missing_weights_is_clear_error():
    cond = T5Conditioner("google/flan-t5-xxl", output_dim=8)  # size from the table
    assert cond.dim == 4096
    with pytest.raises(FileNotFoundError, match="huggingface-cli download"):
        cond.tokenize(["x"])
    with pytest.raises(FileNotFoundError, match="no network"):
        T5Conditioner("/nonexistent/t5-folder", output_dim=8)


def test_frozen_encoder_follows_the_module_device(t5_folder):
    cond = T5Conditioner(str(t5_folder), output_dim=8)
    assert cond.encoder is not None  # loads it
    cond.to("meta")
    assert next(cond.encoder.parameters()).device.type == "meta"
    assert cond.encoder_device.type == "meta"
    assert set(cond.state_dict()) == {"output_proj.weight", "output_proj.bias"}
