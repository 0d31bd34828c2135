"""Token-id parity of the prompts: what the student is fed at evaluation equals, up to the assistant turn,
what LLaMA-Factory's qwen25 template trained it on; and the teacher's prompts equal what QwQ's own chat
template makes of the original's conversation.

The chat templates are the real ones (tests/fixtures/chat_templates, see SOURCES.md there): vLLM renders a
chat request with the checkpoint's tokenizer_config chat_template through transformers'
apply_chat_template and tokenizes the result without adding special tokens (vLLM's ChatCompletionRequest
add_special_tokens defaults to False). A trained checkpoint keeps its base model's chat_template: the qwen25
template has replace_jinja_template=False, checked below. The tokenizer is the tiny Qwen2 stand-in's
(byte-level BPE with Qwen's special tokens), so every id comparison runs offline."""
from pathlib import Path

import pytest
from conftest import REPO, has_llamafactory, run_in_train_env

from skyt1.generation import prompts
from skyt1.published import texts
from skyt1.core.errors import SkyT1Error
from skyt1.weights.tiny_qwen2 import CHAT_TEMPLATE, ENDOFTEXT, IM_END, IM_START, build_tokenizer

FIX = Path(__file__).parent / "fixtures" / "chat_templates"
QWEN25 = (FIX / "qwen2.5-instruct.jinja").read_text()
QWQ = (FIX / "qwq-32b-preview.jinja").read_text()
QWEN25_DEFAULT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
QWQ_DEFAULT = "You are a helpful and harmless assistant. You are Qwen developed by Alibaba. You should think step-by-step."
QUESTIONS = ["What is 2 + 3?", "  Leading and trailing whitespace stays.\n\n", "Line one\nLine two: $\\frac{1}{2}$"]


def _wheel_text(key: str) -> str:
    """A system prompt from the real skythought wheel (fetched from PyPI if `make install` has not)."""
    folder = REPO / texts.DEFAULT_DIR
    try:
        texts.fetch("skythought-wheel", folder)
    except SkyT1Error as e:
        pytest.fail(f"the skythought wheel is needed and could not be fetched: {e}")
    r = texts.Resolver()
    r.folder = folder
    return r.resolve({"artifact": "skythought-wheel", "member": "skythought/evals/models/model_configs.yaml",
                      "key": f"system_prompts.{key}"}).text


def _tokenizer(template: str):
    tok = build_tokenizer()
    tok.chat_template = template
    return tok


def _served_ids(tok, messages) -> list[int]:
    """What vLLM feeds the model for a chat request: the chat template rendered with the generation prompt,
    tokenized without extra special tokens."""
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tok(text, add_special_tokens=False).input_ids


def _our_engine_ids(tok, messages) -> list[int]:
    """The same request through this project's own engine (skyt1.engine.runner), which the tiny preset and
    the CPU smoke run use in vLLM's place."""
    from skyt1.engine.runner import TransformersBackend

    class _Engine:
        pass

    engine = _Engine()
    engine.tok = tok
    return TransformersBackend._encode(engine, messages)


def test_the_fixture_templates_are_qwens():
    # QwQ-32B-Preview's template is Qwen2.5-Instruct's with its own default system prompt
    assert QWEN25.count(QWEN25_DEFAULT) == 2 and QWQ.count(QWQ_DEFAULT) == 2
    assert QWQ.replace(QWQ_DEFAULT, QWEN25_DEFAULT) == QWEN25
    # the tiny stand-in's own template renders tool-free chats exactly as the real one does
    real, stand_in = _tokenizer(QWEN25), _tokenizer(CHAT_TEMPLATE)
    for msgs in ([{"role": "user", "content": "hi"}],
                 [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
                 [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}, {"role": "user", "content": "Q2"}]):
        for gen in (True, False):
            assert (real.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
                    == stand_in.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen))


def test_teacher_prompts_are_what_qwqs_template_makes():
    """The teacher (QwQ-32B-Preview) gets [system: qwen_cot, user: question], as the release's
    inference_and_check.py / task_handlers.make_conversations sent it; QwQ's template makes of that exactly
    what it makes of the bare question (qwen_cot is QwQ's own default system prompt), and no thinking
    prefill follows the assistant header."""
    qwen_cot = _wheel_text("qwen_cot")
    assert qwen_cot == QWQ_DEFAULT
    tok = _tokenizer(QWQ)
    for q in QUESTIONS:
        ours = prompts.build({"system": qwen_cot, "fewshot": []}, q)  # the sample stage's messages (32B preset)
        original = [{"role": "system", "content": qwen_cot}, {"role": "user", "content": q}]
        want = _served_ids(tok, original)
        assert _served_ids(tok, ours) == want == _our_engine_ids(tok, ours)
        assert _served_ids(tok, [{"role": "user", "content": q}]) == want  # the default system is the same text
        text = tok.decode(want)
        assert text == f"{IM_START}system\n{QWQ_DEFAULT}{IM_END}\n{IM_START}user\n{q}{IM_END}\n{IM_START}assistant\n"


@pytest.mark.slow  # imports LLaMA-Factory in the training environment (about a minute)
def test_student_prompt_at_evaluation_equals_the_trained_prompt():
    if not has_llamafactory():  # LLaMA-Factory lives in the training environment: run this test there
        run_in_train_env(__file__, "test_student_prompt_at_evaluation_equals_the_trained_prompt")
        return
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments

    from skyt1.stages import train_launcher

    train_launcher.register_templates()
    sky_system = _wheel_text("skythought")  # the mix's system prompt and the eval_sky prompt (32B preset)
    tok = _tokenizer(QWEN25)  # the base model's tokenizer_config, as the student's checkpoint carries it
    template = get_template_and_fix_tokenizer(tok, DataArguments(template="qwen25"))
    assert tok.chat_template == QWEN25  # training leaves the chat template alone: vLLM serves Qwen2.5's
    assert tok.eos_token == ENDOFTEXT  # replace_eos: the trained stop token is saved as the checkpoint's eos
    for q in QUESTIONS:
        for system in (sky_system, None):
            trained, response = template.encode_oneturn(
                tok, [{"role": "user", "content": q}, {"role": "assistant", "content": "<|begin_of_thought|>x"}],
                system)
            msgs = prompts.build({"system": system, "fewshot": []}, q)  # the evaluate stage's messages
            assert _served_ids(tok, msgs) == trained == _our_engine_ids(tok, msgs), (q, system is None)
            # the student learned to end its answer with <|endoftext|>, the eos its checkpoint declares
            assert response[-1] == tok.convert_tokens_to_ids(ENDOFTEXT)
        assert tok.decode(trained).startswith(f"{IM_START}system\n{QWEN25_DEFAULT}{IM_END}\n")  # both defaults agree
