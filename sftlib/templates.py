"""Chat templates and loss masks: from ``messages`` to ``input_ids`` and ``labels``.

A chat template is a Jinja program (often read from a file), so it is rendered in Jinja's
sandbox, as transformers does. Assistant text the model should learn sits inside
``{% generation %} ... {% endgeneration %}``; every other token gets the label ``-100`` and
does not count in the loss.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

IGNORE_INDEX = -100
_START, _END = "\ue000", "\ue001"  # private-use characters that mark trained text while rendering

# Two common layouts, written for the course. Both train the assistant turn and its end token.
INST_TEMPLATE = """\
{{- bos_token }}
{%- for message in messages %}
    {%- if message['role'] == 'system' %}
        {{- '<<SYS>> ' + message['content'] + ' <</SYS>> ' }}
    {%- elif message['role'] == 'user' %}
        {{- '[INST] ' + message['content'] + ' [/INST]' }}
    {%- elif message['role'] == 'assistant' %}
        {%- generation %}{{- ' ' + message['content'] + eos_token }}{%- endgeneration %}
    {%- else %}
        {{- raise_exception("unknown role '" + message['role'] + "'") }}
    {%- endif %}
{%- endfor %}
"""

CHATML_TEMPLATE = """\
{%- for message in messages %}
    {%- if message['role'] not in ['system', 'user', 'assistant'] %}
        {{- raise_exception("unknown role '" + message['role'] + "'") }}
    {%- endif %}
    {{- '<|im_start|>' + message['role'] + '\n' }}
    {%- if message['role'] == 'assistant' %}
        {%- generation %}{{- message['content'] + '<|im_end|>' }}{%- endgeneration %}
        {{- '\n' }}
    {%- else %}
        {{- message['content'] + '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}
"""


def chatml_template(default_system: str | None = None) -> str:
    """``CHATML_TEMPLATE``; with ``default_system``, a chat without a system message gets that one.

    Many ChatML models (SmolLM2, Qwen2.5) open every chat that lacks a system message with their own
    default one; this builds the same layout with ``{% generation %}`` markers.
    """
    if default_system is None:
        return CHATML_TEMPLATE
    opening = ("{%- if messages and messages[0]['role'] != 'system' %}\n"
               "    {{- '<|im_start|>system\\n' + " + json.dumps(default_system) + " + '<|im_end|>\\n' }}\n"
               "{%- endif %}\n")
    return opening + CHATML_TEMPLATE


# Conversations on which a stand-in template must render exactly as the model's own one.
_PROBES = [
    ([{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}], False),
    ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
      {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Again?"},
      {"role": "assistant", "content": "Hello\nagain."}], False),
    ([{"role": "user", "content": "Name a colour."}], True),
    ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], True),
]


def training_template(tokenizer) -> tuple[str | None, str]:
    """A chat template for ``tokenizer`` that marks assistant turns with ``{% generation %}``.

    Tried in order; the first that applies wins:

    1. ``"own"``: the tokenizer's template already has the markers.
    2. ``"trl"``: TRL knows a training version of the template (Qwen, Llama 3, Gemma, ...).
    3. ``"chatml"``: the course's ChatML template (with the model's default system message, if it
       has one) renders the probe conversations character for character like the model's own.
    4. ``"none"``: nothing found; returns ``(None, "none")`` and the caller decides.

    Cases 1-3 render every probe as the model's own template does, so prompts do not change; only
    the loss mask becomes available. A tokenizer without any template also gets ``"none"``.

    Returns:
        ``(template source or None, how it was found)``.
    """
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    own = tokenizer.chat_template
    if own is None:
        return None, "none"
    if has_generation_markers(own):
        return own, "own"
    try:
        patched = get_training_chat_template(tokenizer)
    except ValueError:  # TRL does not know this template
        patched = None
    if patched is not None and _renders_like_own(tokenizer, patched):
        return patched, "trl"
    opening = tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False)
    found = re.match(r"<\|im_start\|>system\n(.*?)<\|im_end\|>\n<\|im_start\|>user\n", opening, re.S)
    for default_system in [None] + ([found.group(1)] if found else []):
        candidate = chatml_template(default_system)
        if _renders_like_own(tokenizer, candidate):
            return candidate, "chatml"
    return None, "none"


def _renders_like_own(tokenizer, candidate: str) -> bool:
    """True if ``candidate`` renders every probe conversation exactly as the tokenizer's template."""
    return all(tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=prompt)
               == tokenizer.apply_chat_template(chat, chat_template=candidate, tokenize=False,
                                                add_generation_prompt=prompt)
               for chat, prompt in _PROBES)


def without_end_of_turn(template: str) -> str:
    """``template`` with the end-of-turn token left out of assistant turns (lesson 02's EOS bug).

    Works on templates that close an assistant turn as ``message['content'] + eos_token`` (``tiny``'s,
    ``INST_TEMPLATE``) or ``message['content'] + '<|im_end|>'`` (the course's ChatML); any other
    template raises ``ValueError``.
    """
    for turn_end in (" + eos_token", " + '<|im_end|>'"):
        edited = template.replace("message['content']" + turn_end, "message['content']")
        if edited != template:
            return edited
    raise ValueError("without_end_of_turn: the template closes no turn with eos_token or '<|im_end|>'; "
                     "remove the end-of-turn token from its assistant turns by hand")


class _Generation(Extension):
    """``{% generation %}…{% endgeneration %}``: renders its body between two marker characters."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_mark"), [], [], body).set_lineno(lineno)

    def _mark(self, caller) -> str:
        return _START + caller() + _END


def _raise(message: str):
    """``raise_exception`` inside a template."""
    raise jinja2.TemplateError(message)


def compile_template(source: str, name: str = "<template>") -> jinja2.Template:
    """Compile a chat template in Jinja's immutable sandbox (no attribute writes, no imports).

    Raises:
        jinja2.TemplateSyntaxError: naming ``name`` and the line, for a template with a syntax error.
    """
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[_Generation, "jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = _raise
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as err:
        err.name = err.name or name
        raise


def load_template(path: str | Path) -> str:
    """Read a ``.jinja`` chat template and check it compiles; return its source."""
    source = Path(path).read_text(encoding="utf-8")
    compile_template(source, name=str(path))
    return source


@dataclass
class RenderedChat:
    """A rendered conversation and the character spans ``[start, end)`` that are trained."""

    text: str
    trained_spans: list[tuple[int, int]]


def render_chat(template: str, messages: list[dict], add_generation_prompt: bool = False,
                bos_token: str = "<s>", eos_token: str = "</s>", **variables) -> RenderedChat:
    """Render ``messages`` with a chat template; return the text and its trained spans.

    Args:
        template: Jinja source of a chat template.
        messages: ``[{"role": ..., "content": ...}, ...]``.
        add_generation_prompt: end with the opening of an assistant turn (for inference).
        bos_token, eos_token: values of the template variables of those names.

    Returns:
        ``RenderedChat``; ``trained_spans`` come from ``{% generation %}`` blocks.

    Example:
        >>> r = render_chat(INST_TEMPLATE, [{"role": "user", "content": "Hi"},
        ...                                 {"role": "assistant", "content": "Hello."}])
        >>> r.text
        '<s>[INST] Hi [/INST] Hello.</s>'
        >>> r.text[slice(*r.trained_spans[0])]
        ' Hello.</s>'
    """
    for i, message in enumerate(messages):
        if _START in str(message.get("content", "")) or _END in str(message.get("content", "")):
            raise ValueError(f"render_chat: messages[{i}].content holds U+E000 or U+E001, the "
                             "private-use characters that mark trained text here; remove them")
    raw = compile_template(template).render(messages=messages, bos_token=bos_token,
                                            eos_token=eos_token,
                                            add_generation_prompt=add_generation_prompt, **variables)
    text, spans, start = [], [], None
    for ch in raw:
        if ch == _START:
            start = sum(map(len, text))
        elif ch == _END:
            spans.append((start, sum(map(len, text))))
        else:
            text.append(ch)
    return RenderedChat("".join(text), spans)


def labels_from_mask(input_ids: list[int], trained: list[int]) -> list[int]:
    """Copy ``input_ids`` where ``trained`` is 1 and put ``-100`` elsewhere (same length)."""
    if len(input_ids) != len(trained):
        raise ValueError(f"labels_from_mask: {len(input_ids)} ids but {len(trained)} mask entries")
    return [i if m else IGNORE_INDEX for i, m in zip(input_ids, trained)]


def tokenize_chat(messages: list[dict], tokenizer, max_length: int | None = None,
                  train_on: str = "assistant") -> dict[str, list[int]]:
    """Tokenize a conversation with the tokenizer's chat template and build its labels.

    Args:
        messages: one conversation.
        tokenizer: a tokenizer whose chat template marks assistant turns with ``{% generation %}``.
        max_length: longest allowed sequence in tokens; longer raises (never cut silently).
        train_on: ``"assistant"`` (every assistant turn, except those marked ``"weight": 0``),
            ``"last"`` (last assistant turn only) or ``"all"`` (every token, as in plain language
            modelling).

    Returns:
        ``{"input_ids", "attention_mask", "labels"}``, lists of equal length (tokens).
    """
    if train_on not in ("assistant", "last", "all"):
        raise ValueError(f"tokenize_chat: train_on={train_on!r}; use 'assistant', 'last' or 'all'")
    out = tokenizer.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
    if train_on == "assistant":
        mask = _without_weight_0_answers(messages, mask)
    elif train_on == "all":
        mask = [1] * len(ids)
    elif train_on == "last" and any(mask):
        last_start = max(i for i, m in enumerate(mask) if m and (i == 0 or not mask[i - 1]))
        mask = [m if i >= last_start else 0 for i, m in enumerate(mask)]
    if not any(mask):
        raise ValueError("tokenize_chat: no trained token; does the chat template mark assistant "
                         "turns with {% generation %}, and is there an assistant turn?")
    if max_length is not None and len(ids) > max_length:
        raise ValueError(f"tokenize_chat: {len(ids)} tokens > max_length={max_length}; raise "
                         "max_length or shorten/filter this example (it is not cut silently)")
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels_from_mask(ids, mask)}


def _without_weight_0_answers(messages: list[dict], mask: list[int]) -> list[int]:
    """``mask`` with the tokens of each ``"weight": 0`` assistant turn set to 0 (the k-th run of 1s
    is the k-th assistant turn)."""
    answers = [m for m in messages if m.get("role") == "assistant"]
    if not any(m.get("weight") == 0 for m in answers):
        return mask
    starts = [i for i, m in enumerate(mask) if m and (i == 0 or not mask[i - 1])]
    if len(starts) != len(answers):
        raise ValueError(f"tokenize_chat: the chat template marks {len(starts)} trained spans for "
                         f"{len(answers)} assistant turns, so the turns with weight 0 cannot be found; "
                         "use a template with one {% generation %} block per assistant turn")
    mask = list(mask)
    for start, answer in zip(starts, answers):
        end = start
        while end < len(mask) and mask[end]:
            end += 1
        if answer.get("weight") == 0:
            mask[start:end] = [0] * (end - start)
    return mask


def without_added_bos(tokenizer, text: str) -> str:
    """``text`` without its leading BOS if the tokenizer adds a BOS itself when it tokenizes.

    A chat template writes the BOS into the text (``tiny``'s starts with ``<s>``); tokenizing that
    text with the special tokens would then give two BOS tokens. Where the tokenizer adds none,
    the text is returned unchanged: SmolLM2 names ``<|im_start|>`` its BOS but never adds it, and
    there the same characters open the chat's first turn.
    """
    bos = tokenizer.bos_token
    adds_bos = bos is not None and tokenizer("x")["input_ids"][:1] == [tokenizer.bos_token_id]
    return text.removeprefix(bos) if adds_bos else text


def tokenize_prompt_completion(prompt: str, completion: str, tokenizer,
                               max_length: int | None = None) -> dict[str, list[int]]:
    """Tokenize plain-text ``prompt + completion + EOS``; only completion and EOS are trained.

    The prompt gets the tokenizer's special tokens (BOS); the completion is tokenized on its own
    and must carry its leading space if the text needs one.

    Returns:
        ``{"input_ids", "attention_mask", "labels"}`` (tokens).
    """
    prompt_ids = tokenizer(prompt).input_ids
    completion_ids = tokenizer(completion, add_special_tokens=False).input_ids
    ids = prompt_ids + completion_ids + [tokenizer.eos_token_id]
    if max_length is not None and len(ids) > max_length:
        raise ValueError(f"tokenize_prompt_completion: {len(ids)} tokens > max_length={max_length}")
    mask = [0] * len(prompt_ids) + [1] * (len(completion_ids) + 1)
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels_from_mask(ids, mask)}


def mask_html(tokenizer, input_ids: list[int], labels: list[int]) -> str:
    """HTML with one box per token: green when trained (label != -100), grey when masked."""
    boxes = []
    for tid, label in zip(input_ids, labels):
        token = html.escape(tokenizer.convert_ids_to_tokens(tid).replace("Ġ", "␣"))
        colour = "#b7e4c7" if label != IGNORE_INDEX else "#e9ecef"
        boxes.append(f'<span style="background:{colour};padding:1px 3px;margin:1px;'
                     f'border-radius:3px;font-family:monospace">{token}</span>')
    return "<div style='line-height:1.9'>" + "".join(boxes) + "</div>"
