import jinja2
import pytest

from sftlib.models import load_tokenizer
from sftlib.templates import (CHATML_TEMPLATE, IGNORE_INDEX, INST_TEMPLATE, chatml_template,
                              compile_template, labels_from_mask, load_template, mask_html,
                              render_chat, tokenize_chat, training_template,
                              without_added_bos, without_end_of_turn)

CHAT = [{"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Capital of Peru?"},
        {"role": "assistant", "content": "Lima."}]


def test_inst_template_renders_and_marks_assistant_turns():
    r = render_chat(INST_TEMPLATE, CHAT)
    assert r.text == ("<s><<SYS>> Be brief. <</SYS>> [INST] Hi [/INST] Hello.</s>"
                      "[INST] Capital of Peru? [/INST] Lima.</s>")
    assert [r.text[a:b] for a, b in r.trained_spans] == [" Hello.</s>", " Lima.</s>"]


def test_chatml_template_with_generation_prompt():
    r = render_chat(CHATML_TEMPLATE, CHAT[:2], add_generation_prompt=True)
    assert r.text.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert r.trained_spans == []


def test_unknown_role_raises_from_the_template():
    with pytest.raises(jinja2.TemplateError, match="unknown role 'bot'"):
        render_chat(CHATML_TEMPLATE, [{"role": "bot", "content": "x"}])


def test_sandbox_blocks_unsafe_attribute_access():
    with pytest.raises(jinja2.exceptions.SecurityError):
        render_chat("{% for m in messages %}{{ m.__class__.__mro__ }}{% endfor %}", CHAT)


def test_syntax_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.jinja"
    bad.write_text("{{ bos_token }}\n{% for m in messages %}\n")
    with pytest.raises(jinja2.TemplateSyntaxError) as err:
        load_template(bad)
    assert err.value.name == str(bad) and err.value.lineno >= 2
    good = tmp_path / "good.jinja"
    good.write_text(INST_TEMPLATE)
    assert load_template(good) == INST_TEMPLATE
    assert compile_template(INST_TEMPLATE).render(messages=[], bos_token="<s>") == "<s>"


def test_labels_from_mask():
    assert labels_from_mask([5, 6, 7], [0, 1, 1]) == [IGNORE_INDEX, 6, 7]
    with pytest.raises(ValueError, match="3 ids but 2"):
        labels_from_mask([5, 6, 7], [0, 1])


def test_our_render_equals_the_tokenizers_template(tiny):
    _, tokenizer = tiny
    ours = render_chat(tokenizer.chat_template, CHAT, bos_token=tokenizer.bos_token,
                       eos_token=tokenizer.eos_token)
    assert ours.text == tokenizer.apply_chat_template(CHAT, tokenize=False)


def test_tokenize_chat_trains_assistant_turns_and_eos(tiny):
    _, tokenizer = tiny
    out = tokenize_chat(CHAT, tokenizer)
    assert len(out["input_ids"]) == len(out["labels"]) == len(out["attention_mask"])
    trained = [t for t in out["labels"] if t != IGNORE_INDEX]
    assert tokenizer.decode(trained) == " Hello.</s> Lima.</s>"
    last = [t for t in tokenize_chat(CHAT, tokenizer, train_on="last")["labels"] if t != IGNORE_INDEX]
    assert tokenizer.decode(last) == " Lima.</s>"
    assert IGNORE_INDEX not in tokenize_chat(CHAT, tokenizer, train_on="all")["labels"]


def test_tokenize_chat_leaves_weight_0_answers_out_of_the_loss(tiny):
    _, tokenizer = tiny
    weighted = [*CHAT[:2], {**CHAT[2], "weight": 0}, CHAT[3], {**CHAT[4], "weight": 1}]
    out = tokenize_chat(weighted, tokenizer)
    assert out["input_ids"] == tokenize_chat(CHAT, tokenizer)["input_ids"]  # still in the context
    assert tokenizer.decode([t for t in out["labels"] if t != IGNORE_INDEX]) == " Lima.</s>"
    only_first = [*CHAT[:4], {**CHAT[4], "weight": 0}]
    assert tokenizer.decode([t for t in tokenize_chat(only_first, tokenizer)["labels"]
                             if t != IGNORE_INDEX]) == " Hello.</s>"
    everything = tokenize_chat(weighted, tokenizer, train_on="all")["labels"]
    assert IGNORE_INDEX not in everything  # train_on="all" and "last" say what to train themselves
    with pytest.raises(ValueError, match="no trained token"):
        tokenize_chat([*CHAT[:2], {**CHAT[2], "weight": 0}], tokenizer)


def test_tokenize_chat_refuses_weights_a_template_cannot_place(tiny):
    _, tokenizer = tiny
    merged = CHATML_TEMPLATE.replace("{%- generation %}", "").replace("{%- endgeneration %}", "")
    merged = "{%- generation %}" + merged + "{%- endgeneration %}"  # one span for all turns
    tokenizer = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    tokenizer.chat_template = merged
    with pytest.raises(ValueError, match="1 trained spans for 2 assistant turns"):
        tokenize_chat([*CHAT[:2], {**CHAT[2], "weight": 0}, *CHAT[3:]], tokenizer)


def test_tokenize_chat_refuses_overlong_and_untrainable_examples(tiny):
    _, tokenizer = tiny
    with pytest.raises(ValueError, match="max_length=5"):
        tokenize_chat(CHAT, tokenizer, max_length=5)
    with pytest.raises(ValueError, match="no trained token"):
        tokenize_chat(CHAT[:2], tokenizer)
    with pytest.raises(ValueError, match="train_on="):
        tokenize_chat(CHAT, tokenizer, train_on="prompt")
    with pytest.raises(ValueError, match="no trained token"):
        tokenize_chat(CHAT[:2], tokenizer, train_on="last")


def test_render_chat_refuses_text_holding_its_span_markers():
    with pytest.raises(ValueError, match=r"messages\[1\]\.content holds U\+E000 or U\+E001"):
        render_chat(INST_TEMPLATE, [{"role": "user", "content": "a"},
                                    {"role": "assistant", "content": "b\ue001c"}])


def test_mask_html_colours_trained_tokens(tiny):
    _, tokenizer = tiny
    out = tokenize_chat(CHAT[1:3], tokenizer)
    page = mask_html(tokenizer, out["input_ids"], out["labels"])
    assert page.count("#b7e4c7") == sum(t != IGNORE_INDEX for t in out["labels"])
    assert page.count("<span") == len(out["input_ids"])


def test_tokenize_prompt_completion_trains_completion_and_eos(tiny):
    from sftlib.templates import tokenize_prompt_completion

    _, tokenizer = tiny
    out = tokenize_prompt_completion("Where was Kira born?", " Lima", tokenizer)
    assert out["input_ids"][0] == tokenizer.bos_token_id
    assert out["input_ids"][-1] == tokenizer.eos_token_id
    trained = [t for t in out["labels"] if t != IGNORE_INDEX]
    assert tokenizer.decode(trained) == " Lima</s>"
    with pytest.raises(ValueError, match="max_length=3"):
        tokenize_prompt_completion("Where was Kira born?", " Lima", tokenizer, max_length=3)


def test_without_added_bos_strips_only_a_bos_the_tokenizer_adds_again(tiny):
    _, tokenizer = tiny
    chat = tokenizer.apply_chat_template(CHAT[:2], tokenize=False, add_generation_prompt=True)
    assert chat.startswith("<s>")  # tiny's template writes the BOS, and its tokenizer adds one
    stripped = without_added_bos(tokenizer, chat)
    assert stripped == chat[len("<s>"):]
    assert tokenizer(stripped)["input_ids"].count(tokenizer.bos_token_id) == 1
    assert without_added_bos(tokenizer, "Lima.") == "Lima."

    smol = load_tokenizer("tiny")  # SmolLM2's layout: BOS <|im_start|>, never added
    smol.add_special_tokens({"bos_token": "<|im_start|>"})
    smol.add_bos_token = False
    turn = "<|im_start|>user\nHi<|im_end|>\n"
    assert without_added_bos(smol, turn) == turn  # here it opens the first turn: it must stay


# A ChatML template without loss-mask markers that adds a default system message, as SmolLM2's does.
CHATML_WITH_DEFAULT = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a test assistant.<|im_end|>\\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def tokenizer_with(template):
    """A fresh tiny tokenizer (the session fixture stays untouched) with ``template``."""
    tokenizer = load_tokenizer("tiny")
    tokenizer.chat_template = template
    return tokenizer


def test_training_template_keeps_a_marked_template(tiny):
    _, tokenizer = tiny
    assert training_template(tokenizer) == (tokenizer.chat_template, "own")


def test_training_template_marks_a_chatml_template_and_keeps_its_default_system():
    tokenizer = tokenizer_with(CHATML_WITH_DEFAULT)
    template, how = training_template(tokenizer)
    assert how == "chatml" and template == chatml_template("You are a test assistant.")
    for chat in (CHAT, CHAT[1:], CHAT[1:2]):  # with and without a system message
        for prompt in (False, True):
            assert (tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=prompt)
                    == tokenizer.apply_chat_template(chat, chat_template=template, tokenize=False,
                                                     add_generation_prompt=prompt))
    tokenizer.chat_template = template
    trained = tokenizer.decode([t for t in tokenize_chat(CHAT[1:], tokenizer)["labels"]
                                if t != IGNORE_INDEX])
    assert "Hello." in trained and "Lima." in trained and "<|im_end|>" in trained
    assert "test assistant" not in trained and "Peru" not in trained


def test_training_template_finds_plain_chatml_and_trl_versions():
    unmarked = CHATML_TEMPLATE.replace("{%- generation %}", "").replace("{%- endgeneration %}", "")
    assert training_template(tokenizer_with(unmarked)) == (CHATML_TEMPLATE, "chatml")
    from trl.chat_template_utils import qwen2_5_chat_template, qwen2_5_training_chat_template

    assert (training_template(tokenizer_with(qwen2_5_chat_template))
            == (qwen2_5_training_chat_template, "trl"))


def test_training_template_refuses_a_trl_version_that_renders_differently(monkeypatch):
    unmarked = CHATML_TEMPLATE.replace("{%- generation %}", "").replace("{%- endgeneration %}", "")
    drifted = CHATML_TEMPLATE.replace("<|im_start|>", "<|im_start|> ")  # marked, but not the same text
    monkeypatch.setattr("trl.chat_template_utils.get_training_chat_template", lambda tokenizer: drifted)
    assert training_template(tokenizer_with(unmarked)) == (CHATML_TEMPLATE, "chatml")


def test_training_template_gives_up_on_other_layouts():
    unmarked = INST_TEMPLATE.replace("{%- generation %}", "").replace("{%- endgeneration %}", "")
    assert training_template(tokenizer_with(unmarked)) == (None, "none")
    assert training_template(tokenizer_with(None)) == (None, "none")


@pytest.mark.parametrize("template", ["tiny", CHATML_TEMPLATE, chatml_template("Be kind.")])
def test_without_end_of_turn_drops_only_the_assistants_end(tiny, template):
    _, tokenizer = tiny
    template = tokenizer.chat_template if template == "tiny" else template
    end = "</s>" if template == tokenizer.chat_template else "<|im_end|>"
    before = tokenizer.apply_chat_template(CHAT, chat_template=template, tokenize=False)
    after = tokenizer.apply_chat_template(CHAT, chat_template=without_end_of_turn(template),
                                          tokenize=False)
    assert before.count(end) - after.count(end) == 2  # the two assistant turns
    assert "Hello." + end in before and "Hello." + end not in after
    with pytest.raises(ValueError, match="closes no turn"):
        without_end_of_turn("{{ messages[0]['content'] }}")
