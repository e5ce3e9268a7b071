"""hparams_supervised: OpenAI's "auto" heuristics, the request models, bounds and their docs; and
training/sft.py's length-bucketed batches and loss on numbers worked by hand."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from openrft.training import sft
from openrft.training.hparams import HParamsError
from openrft.training.hparams_supervised import (
    LIMITS,
    DpoHParams,
    DpoRequest,
    SupervisedHParams,
    SupervisedRequest,
    auto_epochs,
    check_request,
    resolve,
)

DOCS = Path(__file__).parents[2] / "docs" / "hyperparameters.md"


def test_auto_follows_openai() -> None:
    # n_epochs: 3 unless 3n < 100 (-> ceil(100 / n), at most 25) or 3n > 25000 (-> 25000 // n).
    assert [auto_epochs(n) for n in (1, 3, 10, 33, 34, 100, 8333, 8334, 20000)] == [25, 25, 10, 4, 3, 3, 3, 2, 1]
    hp = resolve("supervised", {"n_epochs": "auto", "batch_size": "auto"}, 50, 10, seed=4)
    # batch = min(8, 50 // 10) = 5; epochs = 3 (150 >= 100); steps = 3 x 10 = 30; eval_interval = 30 // 5 = 6.
    assert (hp.n_epochs, hp.batch_size, hp.total_steps(50), hp.eval_interval, hp.seed) == (3, 5, 30, 6, 4)
    assert isinstance(hp, SupervisedHParams) and not isinstance(hp, DpoHParams)
    assert hp.learning_rate == pytest.approx(1e-4) and hp.precision in ("bf16", "fp32")
    dpo = resolve("dpo", {"beta": "auto", "lora_rank": 0, "learning_rate_multiplier": 2}, 3, 0)
    assert isinstance(dpo, DpoHParams) and dpo.beta == 0.1 and dpo.learning_rate == pytest.approx(2e-5)
    assert (dpo.batch_size, dpo.n_epochs) == (1, 25)
    assert resolve("supervised", {"batch_size": 64}, 10, 0).batch_size == 10  # never above the file
    pinned = resolve("dpo", None, 40, 4).public()
    assert resolve("dpo", pinned, 40, 4).public() == pinned  # a pinned job resumes with the same values


def test_bad_values_name_the_field() -> None:
    for method, request, param, text in [
        ("dpo", {"beta": 0}, "beta", "> 0 and <= 2"),
        ("dpo", {"beta": 2.5}, "beta", "> 0 and <= 2"),
        ("supervised", {"beta": 0.1}, "beta", "unknown hyperparameter"),
        ("supervised", {"n_epochs": "3"}, "n_epochs", "integer"),
        ("supervised", {"max_length": 4}, "max_length", ">= 8"),
        ("supervised", {"learning_rate": 1.0}, "learning_rate", "derived"),
        ("supervised", {"samples_per_prompt": 4}, "samples_per_prompt", "unknown"),
    ]:
        with pytest.raises(HParamsError, match=text) as info:
            check_request(method, request)
        assert info.value.param == param, request
    assert check_request("dpo", {"beta": 2}).beta == 2.0


def test_request_models_and_docs() -> None:
    assert "beta" in DpoRequest.model_fields and "beta" not in SupervisedRequest.model_fields
    schema = DpoRequest.model_json_schema()["properties"]
    assert (schema["beta"]["exclusiveMinimum"], schema["beta"]["maximum"]) == (0, 2)
    assert schema["n_epochs"]["default"] == "auto" and schema["max_length"]["default"] is None
    section = DOCS.read_text().split("## Supervised and DPO jobs", 1)[1]
    for name in DpoRequest.model_fields:
        assert re.search(rf"`{name}`", section), f"{name} is not in the supervised/DPO section"
    assert set(LIMITS) >= {"n_epochs", "batch_size", "beta", "max_length", "micro_batch_size"}


def test_bucketing_is_a_seeded_partition_with_less_padding() -> None:
    lengths = [5, 50, 7, 48, 6, 52, 9, 45, 8, 51, 4, 49] * 4  # short and long, interleaved
    bs = 4
    for epoch in range(3):
        batches = sft.bucketed_batches(lengths, bs, seed=1, epoch=epoch)
        assert len(batches) == math.ceil(len(lengths) / bs)
        assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
        assert batches == sft.bucketed_batches(lengths, bs, seed=1, epoch=epoch)  # a pure function
    assert sft.batch_at(13, lengths, bs, 1) == sft.bucketed_batches(lengths, bs, 1, 1)[1]  # 12 batches an epoch
    from openrft.training.data import batch_indices

    plain = [batch_indices(s, len(lengths), bs, 1) for s in range(12)]
    bucketed = sft.bucketed_batches(lengths, bs, 1, 0)
    assert sft.padding_fraction(lengths, bucketed) < 0.1 < sft.padding_fraction(lengths, plain)
    # By hand: lengths 2 and 4 in one chunk: 8 slots, 6 real -> 25% padding.
    assert sft.padding_fraction([2, 4], [[0, 1]]) == 0.25
    assert sft.micro_batches([3, 9, 1, 7], [0, 1, 2, 3], 2) == [[1, 3], [0, 2]]


class Uniform(torch.nn.Module):
    """A 'model' whose every prediction is uniform over a vocabulary of 4: loss log 4 per token."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(4, 2))
        self.config = type("C", (), {"final_logit_softcapping": None, "logit_scale": None})()

    def get_decoder(self):
        return lambda input_ids, **kw: type("O", (), {"last_hidden_state": torch.ones(*input_ids.shape, 2)})()

    def get_output_embeddings(self):
        return lambda h: h @ self.w.T


def test_sft_loss_by_hand() -> None:
    # Uniform predictions over 4 tokens: every learned token costs log 4 = 1.386294; accuracy = share of
    # learned tokens equal to argmax (token 0 on ties). Learned tokens: example 1 tokens 2, 3 (ids 0, 3);
    # example 2 token 1 (id 0): 3 tokens, 2 of them id 0 -> accuracy 2/3. Mask position 0 has no predictor.
    examples = [sft.Example([1, 2, 0, 3], [0, 0, 1, 1]), sft.Example([2, 0], [1, 1])]
    stats = sft.sft_pass(Uniform(), examples, pad_id=0, micro_batch_size=1, backward=True)
    assert stats.tokens == 3 and stats.loss == pytest.approx(math.log(4))
    assert stats.accuracy == pytest.approx(2 / 3)
    assert (stats.padding_slots, stats.real_slots) == (0, 6)  # one example per micro-batch: no padding
    both = sft.sft_pass(Uniform(), examples, pad_id=0, micro_batch_size=2, backward=False)
    assert both.loss == pytest.approx(stats.loss) and both.padding_slots == 2  # [4, 2] padded to 4
