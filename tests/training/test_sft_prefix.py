"""The shared-prefix SFT forward: a prefix all rows share runs once, with the same loss and gradient."""

from __future__ import annotations

from pathlib import Path

import torch

from openrft.training import sft, trainer
from openrft.training.hparams_supervised import resolve


def test_shared_prefix_len() -> None:
    ids = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 1, 0]])
    attention = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    learn = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 1, 0]], dtype=torch.bool)
    assert sft.shared_prefix_len(ids, attention, learn) == 3  # tokens 5 6 7; token 3 is predicted from 2
    early = learn.clone()
    early[0, 2] = True  # token 2 learned: predicted from position 1, so only 2 tokens can be shared
    assert sft.shared_prefix_len(ids, attention, early) == 2
    assert sft.shared_prefix_len(ids[:1], attention[:1], learn[:1]) == 0  # one row: nothing to share


def test_shared_prefix_gives_the_same_loss_and_gradient(tiny_model_dir: Path) -> None:
    hp = resolve("supervised", {"lora_rank": 4, "lora_alpha": 8, "precision": "fp32"}, 4, 0)
    model, tok = trainer.load_policy(tiny_model_dir, hp)
    with torch.no_grad():  # a non-zero adapter, so its gradient path through the prefix is exercised
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    system = "<|system|> say the red cat please <eos> "
    texts = [
        system + "<|user|> one two <eos> <|assistant|> yes <eos>",
        system + "<|user|> dog <eos> <|assistant|> no maybe <eos>",
    ]
    examples = []
    for text in texts:
        ids = tok.encode(text)
        start = len(tok.encode(text.rsplit("<|assistant|>", 1)[0] + "<|assistant|>"))
        examples.append(sft.Example(ids, [0] * start + [1] * (len(ids) - start)))
    ids, attention, learn = sft.pad(examples, tok.pad_token_id, torch.device("cpu"))
    assert sft.shared_prefix_len(ids, attention, learn) >= 7

    def loss_and_grads(together: bool) -> tuple[float, list[torch.Tensor]]:
        model.zero_grad()
        stats = sft.sft_pass(model, examples, tok.pad_token_id, 2 if together else 1, backward=True)
        return stats.loss, [p.grad.clone() for p in model.parameters() if p.requires_grad and p.grad is not None]

    shared_loss, shared_grads = loss_and_grads(True)  # one micro-batch: the prefix runs once
    whole_loss, whole_grads = loss_and_grads(False)  # one row per micro-batch: no sharing
    assert abs(shared_loss - whole_loss) < 1e-5
    assert len(shared_grads) == len(whole_grads) > 0
    for a, b in zip(shared_grads, whole_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
