import math

import pytest
import torch

from sftlib.evaluate import complete, perplexity, probe_accuracy


def test_perplexity_matches_a_hand_computation(tiny):
    model, tokenizer = tiny
    texts = ["The capital of France is Paris.", "Peru lies in South America. It is big."]
    nll, count = 0.0, 0
    for text in texts:  # one at a time, no padding: the plain definition
        ids = tokenizer(text + tokenizer.eos_token, return_tensors="pt").input_ids
        with torch.no_grad():
            logp = model(ids).logits[0, :-1].log_softmax(-1)
        nll -= logp.gather(1, ids[0, 1:, None]).sum().item()
        count += ids.shape[1] - 1
    assert perplexity(model, tokenizer, texts, batch_size=2) == pytest.approx(math.exp(nll / count),
                                                                              rel=1e-4)


def test_complete_and_probe_accuracy(tiny):
    model, tokenizer = tiny
    probes = [{"prompt": "The capital of France is", "answer": "Paris"},
              {"prompt": "The capital of Peru is", "answer": "Lima"}]
    outs = complete(model, tokenizer, [p["prompt"] for p in probes], max_new_tokens=3)
    assert len(outs) == 2 and all(isinstance(o, str) for o in outs)
    wrong = [dict(p, answer="Zzyzx") for p in probes]
    assert probe_accuracy(model, tokenizer, wrong) == 0.0
    assert probe_accuracy(model, tokenizer, probes) == 1.0
    with pytest.raises(ValueError, match="no probes"):
        probe_accuracy(model, tokenizer, [])


def test_completions_report_length_and_stop(tiny):
    from sftlib.evaluate import completions

    model, tokenizer = tiny
    outs = completions(model, tokenizer, ["The capital of France is", "Peru"], max_new_tokens=4)
    for c in outs:  # a continuation ends at EOS or at the limit, never earlier
        assert c.num_tokens == 4 or (c.stopped and c.num_tokens < 4)
    assert outs[0].text == complete(model, tokenizer, ["The capital of France is"], 4)[0]
