"""The 32B preset's training, on CPU, with a tiny Qwen2-architecture stand-in for Qwen2.5-32B-Instruct.

- the fork's `qwen25` template, in-process (multi-turn separator, tool calls, jinja);
- the preset's rendered LLaMA-Factory arguments (only paths and the device swapped) through LLaMA-Factory's
  own argument parsing, template resolution and preprocessing, started the way training is (torchrun);
- a real short ZeRO-3 offload run through our launcher on one torchrun rank, against the same run without
  DeepSpeed (losses agree), whose checkpoint loads in transformers.
What this cannot show: 8 GPUs, bf16 on GPUs, NCCL, multi-node, the 32B model's memory footprint."""

import copy
import json
import os
import subprocess

import pytest
import yaml

from skyt1 import config
from skyt1.weights.prepare import weights_sha256
from skyt1.stages import mix, train
from skyt1.weights.tiny_qwen2 import ENDOFTEXT, IM_END, IM_START, build_tiny_qwen2

from conftest import REPO, has_llamafactory, run_in_train_env

# Starts engines, trains, runs Snakemake or many sandboxes: outside the fast gate (make test-fast).
pytestmark = pytest.mark.slow

SYSTEM = "Think first, then answer."


def _rows(n=16):
    return [{"system": SYSTEM,
             "conversations": [{"from": "user", "value": f"What is {i} + 3?"},
                               {"from": "assistant", "value": f"The answer is {i + 3}."}]} for i in range(n)]


@pytest.fixture(scope="module")
def cfg32():
    cfg = config.resolve({"preset": "sky-t1-32b"}, REPO / "config")
    config.validate(cfg, REPO / "config" / "schema.yaml")
    return cfg


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    return build_tiny_qwen2(tmp_path_factory.mktemp("models") / "tiny-qwen2")


@pytest.fixture(scope="module")
def sft(tmp_path_factory):
    """Training data in the form the mix stage writes (sharegpt + dataset_info.json)."""
    folder = tmp_path_factory.mktemp("sft")
    (folder / "sky_t1.json").write_text(json.dumps(_rows()))
    (folder / "dataset_info.json").write_text(json.dumps(mix.dataset_info("sky_t1", "sky_t1.json")))
    return folder


def test_tiny_qwen2_has_qwens_special_tokens(student):
    from transformers import AutoConfig, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(student)
    assert AutoConfig.from_pretrained(student).model_type == "qwen2"
    assert (tok.eos_token, tok.pad_token, tok.bos_token) == (IM_END, ENDOFTEXT, None)
    for special in (ENDOFTEXT, IM_START, IM_END):
        assert tok.convert_tokens_to_ids(special) != tok.unk_token_id
        assert tok.encode(special, add_special_tokens=False) == [tok.convert_tokens_to_ids(special)]
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text.endswith(f"{IM_START}user\nhi{IM_END}\n{IM_START}assistant\n")
    assert tok.decode(tok.encode("ünïcode 42 ∑", add_special_tokens=False)) == "ünïcode 42 ∑"  # byte-level: no unk


def test_qwen25_template_reproduces_the_fork(student):
    if not has_llamafactory():  # in-process LLaMA-Factory: run this same test in the training environment
        run_in_train_env(__file__, "test_qwen25_template_reproduces_the_fork")
        return
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.data.template import TEMPLATES
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer

    from skyt1.stages import train_launcher

    train_launcher.register_templates()
    train_launcher.register_templates()  # idempotent
    assert "qwen25" in TEMPLATES
    tok = AutoTokenizer.from_pretrained(student)
    template = get_template_and_fix_tokenizer(tok, DataArguments(template="qwen25"))
    # replace_eos: the stop word becomes the eos (and stays the pad token)
    assert (tok.eos_token, tok.pad_token) == (ENDOFTEXT, ENDOFTEXT)
    assert template.get_stop_token_ids(tok) == [tok.convert_tokens_to_ids(ENDOFTEXT)]
    msgs = [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"},
            {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A2"}]
    turns = [(tok.decode(p), tok.decode(r)) for p, r in template.encode_multiturn(tok, msgs, "S")]
    assert turns == [
        (f"{IM_START}system\nS{IM_END}\n{IM_START}user\nQ1{IM_END}\n{IM_START}assistant\n", f"A1{ENDOFTEXT}"),
        # the fork's separator opens the next user turn, inside the (untrained) prompt
        (f"\n{IM_START}user\nQ2{IM_END}\n{IM_START}assistant\n", f"A2{ENDOFTEXT}"),
    ]
    # no system given: the fork's default system prompt
    prompt, _ = template.encode_oneturn(tok, msgs[:2])
    assert tok.decode(prompt).startswith(
        f"{IM_START}system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.{IM_END}\n")
    # tool calls as the fork's default tool format writes them: each call ends with a newline and the eos
    calls = json.dumps([{"name": "f", "arguments": {"x": 1}}, {"name": "g", "arguments": {}}])
    ids = template._convert_elements_to_ids(tok, template.format_function.apply(content=calls))
    assert tok.decode(ids) == f'Action: f\nAction Input: {{"x": 1}}\n{ENDOFTEXT}Action: g\nAction Input: {{}}\n{ENDOFTEXT}'
    # the jinja template (used only when a tokenizer has none) renders the same turns
    tok.chat_template = None
    template.fix_jinja_template(tok)
    rendered = tok.apply_chat_template([{"role": "system", "content": "S"}, *msgs[:2]], tokenize=False)
    assert rendered == f"{IM_START}system\nS{IM_END}\n{IM_START}user\nQ1{IM_END}\n{IM_START}assistant\nA1{ENDOFTEXT}\n"


def _run(cmd, timeout=300):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "2"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


def test_32b_arguments_pass_llamafactorys_parsing(cfg32, student, sft, tmp_path, repo):
    tcfg = copy.deepcopy(cfg32["train"])
    spec = cfg32["models"][tcfg["student"]]
    assert spec["template"] == "qwen25"
    args = train.build_args(train.Spec(tcfg, spec, str(repo)), student, sft, "sky_t1", tmp_path / "out")
    args["use_cpu"] = True  # the only change besides paths: this machine has no GPU (bf16 stays on, on CPU)
    (tmp_path / "args.yaml").write_text(yaml.safe_dump(args))
    cmd = train.launch_command(tmp_path / "args.yaml", ranks=1, deepspeed=True)
    assert cmd[1:4] == ["-m", "torch.distributed.run", "--standalone"]
    cmd = cmd[:-1] + ["--check", str(tmp_path / "args.yaml"), str(tmp_path / "check.json")]
    _run(cmd)
    got = json.loads((tmp_path / "check.json").read_text())

    assert (got["template"], got["template_class"]) == ("qwen25", "Qwen25Template")
    assert got["deepspeed"] == str(repo / "config" / "deepspeed" / "ds_z3_offload.json")
    assert got["parallel_mode"] == "ParallelMode.DISTRIBUTED" and got["world_size"] == 1
    # SkyThought's qwen2_full_sft.yaml, as LLaMA-Factory parsed it
    assert {k: got[k] for k in ("ddp_timeout", "preprocessing_num_workers", "cutoff_len", "max_samples",
                                "learning_rate", "num_train_epochs", "per_device_train_batch_size",
                                "gradient_accumulation_steps", "lr_scheduler_type", "warmup_ratio", "bf16",
                                "plot_loss", "run_name", "save_steps", "logging_steps")} == {
        "ddp_timeout": 180000000, "preprocessing_num_workers": 16, "cutoff_len": 16384, "max_samples": 1000000,
        "learning_rate": 1e-5, "num_train_epochs": 3.0, "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 12, "lr_scheduler_type": "cosine", "warmup_ratio": 0.1, "bf16": True,
        "plot_loss": True, "run_name": "Sky-T1", "save_steps": 100, "logging_steps": 1}
    assert (got["eos_token"], got["pad_token"]) == (ENDOFTEXT, ENDOFTEXT)

    # one training row as LLaMA-Factory feeds it: Qwen chat format, the answer ends on <|endoftext|>
    row = got["first_row"]
    assert row["text"] == (f"{IM_START}system\n{SYSTEM}{IM_END}\n{IM_START}user\nWhat is 0 + 3?{IM_END}\n"
                           f"{IM_START}assistant\nThe answer is 3.{ENDOFTEXT}")
    assert row["trained_text"] == f"The answer is 3.{ENDOFTEXT}"
    n_prompt = len(row["input_ids"]) - sum(t != -100 for t in row["labels"])
    assert row["labels"][:n_prompt] == [-100] * n_prompt
    assert row["labels"][n_prompt:] == row["input_ids"][n_prompt:]
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(student)
    assert row["input_ids"][-1] == tok.convert_tokens_to_ids(ENDOFTEXT)
    assert row["input_ids"].count(tok.convert_tokens_to_ids(IM_END)) == 2  # system and user; none after the answer


def _losses(folder):
    state = json.loads((folder / "trainer_state.json").read_text())
    return [e["loss"] for e in state["log_history"] if "loss" in e]


def _short_run_cfg(cfg32, deepspeed):
    """The 32B train section with sizes cut to a few CPU steps (values a tiny random model can learn from)."""
    tcfg = copy.deepcopy(cfg32["train"])
    tcfg["name"] = "zero3" if deepspeed else "plain"
    tcfg["deepspeed"] = tcfg["deepspeed"] if deepspeed else None
    tcfg["args"].update(cutoff_len=64, per_device_train_batch_size=2, gradient_accumulation_steps=1, max_steps=4,
                        learning_rate=1e-3, warmup_ratio=0.0, preprocessing_num_workers=1, save_steps=2,
                        bf16=False, use_cpu=True)
    return tcfg


@pytest.fixture(scope="module")
def zero3_runs(cfg32, student, sft, tmp_path_factory):
    out = tmp_path_factory.mktemp("checkpoints")
    spec = cfg32["models"][cfg32["train"]["student"]]
    runs = {}
    for deepspeed in (True, False):
        tcfg = _short_run_cfg(cfg32, deepspeed)
        log = out / f"{tcfg['name']}.log"
        train.run(train.Spec(tcfg, spec, repo_root=str(REPO)),
                  train.Paths(student, sft / "sky_t1.json", sft / "dataset_info.json", out / tcfg["name"], str(log)), gpus=0)
        runs[tcfg["name"]] = (out / tcfg["name"], log.read_text())
    return runs


def test_zero3_offload_trains_on_cpu_through_torchrun(zero3_runs, student):
    import torch
    from transformers import AutoModelForCausalLM

    folder, log = zero3_runs["zero3"]
    # one torchrun rank with a process group, and ZeRO-3 partitioning the model as it loads
    assert "world size: 1, device: cpu:0, distributed training: True" in log
    assert "Detected DeepSpeed ZeRO-3: activating zero.init() for this model" in log
    assert "distributed training: False" in zero3_runs["plain"][1]  # the plain run: no torchrun
    manifest = json.loads((folder / "skyt1_model.json").read_text())
    assert manifest["ranks"] == 1
    assert manifest["template"]["name"] == "qwen25" and "SkyThought@0751518" in manifest["template"]["source"]
    assert manifest["provenance"]["llamafactory_args"]["template"] == "qwen25"
    assert manifest["weights_sha256"] == weights_sha256(folder)  # hashed once at the end of training
    assert manifest["provenance"]["llamafactory_args"]["deepspeed"].endswith("ds_z3_offload.json")
    losses = _losses(folder)
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert not list(folder.glob("checkpoint-*"))  # resume states are dropped once training succeeded
    model = AutoModelForCausalLM.from_pretrained(folder)
    base = AutoModelForCausalLM.from_pretrained(student)
    name = "model.layers.0.mlp.up_proj.weight"
    assert model.state_dict()[name].shape == base.state_dict()[name].shape
    assert not torch.equal(model.state_dict()[name], base.state_dict()[name])


def test_zero3_losses_match_the_run_without_deepspeed(zero3_runs):
    zero3, plain = _losses(zero3_runs["zero3"][0]), _losses(zero3_runs["plain"][0])
    print("losses zero3", zero3, "plain", plain)
    assert zero3 == pytest.approx(plain, rel=1e-3)


# SkyThought's skythought/train/LLaMA-Factory/examples/train_full/qwen2_full_sft.yaml (commit 0751518),
# every key but the paths (model_name_or_path, dataset, output_dir, deepspeed) and report_to (wandb there).
SKYTHOUGHT_TRAIN = {
    "stage": "sft", "do_train": True, "finetuning_type": "full", "template": "qwen25", "cutoff_len": 16384,
    "max_samples": 1000000, "overwrite_cache": True, "preprocessing_num_workers": 16, "logging_steps": 1,
    "save_steps": 100, "plot_loss": True, "per_device_train_batch_size": 1, "gradient_accumulation_steps": 12,
    "learning_rate": 1.0e-5, "num_train_epochs": 3.0, "lr_scheduler_type": "cosine", "warmup_ratio": 0.1,
    "bf16": True, "ddp_timeout": 180000000, "run_name": "Sky-T1",
}

# ... and its examples/deepspeed/ds_z3_offload_config.json (sha256 922774e5...855cb), as parsed JSON.
SKYTHOUGHT_DS = {
    "train_batch_size": "auto", "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto",
    "gradient_clipping": "auto", "zero_allow_untested_optimizer": True,
    "fp16": {"enabled": "auto", "loss_scale": 0, "loss_scale_window": 1000, "initial_scale_power": 16,
             "hysteresis": 2, "min_loss_scale": 1},
    "bf16": {"enabled": "auto"},
    "zero_optimization": {
        "stage": 3, "offload_optimizer": {"device": "cpu", "pin_memory": True},
        "offload_param": {"device": "cpu", "pin_memory": True}, "overlap_comm": True,
        "contiguous_gradients": True, "sub_group_size": 1e9, "reduce_bucket_size": "auto",
        "stage3_prefetch_bucket_size": "auto", "stage3_param_persistence_threshold": "auto",
        "stage3_max_live_parameters": 1e9, "stage3_max_reuse_distance": 1e9,
        "stage3_gather_16bit_weights_on_model_save": True},
}


def test_32b_train_values_are_skythoughts(cfg32, tmp_path):
    tcfg = cfg32["train"]
    args = train.build_args(train.Spec(tcfg, cfg32["models"][tcfg["student"]], str(REPO)), tmp_path / "m",
                            tmp_path / "d", "sky_t1", tmp_path / "o")
    assert {k: args[k] for k in SKYTHOUGHT_TRAIN} == SKYTHOUGHT_TRAIN
    assert [type(args[k]) for k in SKYTHOUGHT_TRAIN] == [type(v) for v in SKYTHOUGHT_TRAIN.values()]
    assert args["report_to"] == "none"
    assert tcfg["nproc_per_node"] == 8 and cfg32["resources"]["train"]["gpu"] == 8
    ds = json.loads((REPO / args["deepspeed"]).read_text())
    assert ds == SKYTHOUGHT_DS


def test_launch_command_one_rank_per_gpu():
    assert train._ranks(0) == 1 and train._ranks(None) == 1 and train._ranks(8) == 8
    assert train.launch_command("a.yaml", 1, deepspeed=False) == [train.launcher_python(), "-m", "skyt1.stages.train_launcher", "a.yaml"]
    cmd = train.launch_command("a.yaml", 8, deepspeed=True)
    assert cmd[:3] == [train.launcher_python(), "-m", "torch.distributed.run"]
    assert cmd[cmd.index("--nproc_per_node") + 1] == "8"
    assert cmd[-3:] == ["-m", "skyt1.stages.train_launcher", "a.yaml"]
    # DeepSpeed needs a process group even for one rank; several ranks need torchrun without it too
    assert "torch.distributed.run" in train.launch_command("a.yaml", 1, deepspeed=True)
    assert "torch.distributed.run" in train.launch_command("a.yaml", 2, deepspeed=False)


class _Engine:
    """What accelerate's DeepSpeedEngineWrapper drives: the boundary flag, backward and step."""

    def __init__(self):
        self.calls = []

    def set_gradient_accumulation_boundary(self, is_boundary):
        self.calls.append(("boundary", is_boundary))

    def backward(self, loss, **kwargs):
        self.calls.append(("backward", loss))

    def step(self):
        self.calls.append(("step",))


def test_deepspeed_closes_windows_where_the_trainer_does():
    """The Trainer's sync_gradients (end of a window, or of an epoch) is DeepSpeed's boundary, and only
    there does the engine step: an epoch shorter than one window still updates (accelerate PR #3630)."""
    if not has_llamafactory():  # the launcher's environment (accelerate as LLaMA-Factory pins it)
        run_in_train_env(__file__, "test_deepspeed_closes_windows_where_the_trainer_does")
        return
    from accelerate.state import GradientState
    from accelerate.utils.deepspeed import DeepSpeedEngineWrapper

    from skyt1.stages import train_launcher

    train_launcher.deepspeed_follows_the_trainers_boundaries()
    train_launcher.deepspeed_follows_the_trainers_boundaries()  # idempotent
    engine = _Engine()
    wrapped = DeepSpeedEngineWrapper(engine)
    state = GradientState()
    try:
        for sync in (False, True):  # a window of two micro-batches, e.g. an epoch's last, partial one
            state._set_sync_gradients(sync)
            wrapped.backward(f"loss{int(sync)}")
    finally:
        state._set_sync_gradients(True)
    assert engine.calls == [("boundary", False), ("backward", "loss0"),
                            ("boundary", True), ("backward", "loss1"), ("step",)]
    wrapped.backward("loss2", sync_gradients=False)  # an explicit flag (later accelerate passes one) wins
    assert engine.calls[-2:] == [("boundary", False), ("backward", "loss2")]
