"""What the train stage runs on every rank: `python -m skyt1.stages.train_launcher ARGS.yaml`.

Under torchrun each rank starts here. Before LLaMA-Factory parses its arguments this module
1. registers the chat templates the recipe needs that the pinned LLaMA-Factory (0.9.3) lacks:
   `qwen25`, the template of SkyThought's LLaMA-Factory fork (release of 2025-01-10) that trained
   Sky-T1-32B-Preview, rebuilt on 0.9.3's Template class with the fork's behaviour (see Qwen25Template);
2. relaxes one version pin: LLaMA-Factory 0.9.3 refuses any DeepSpeed above 0.16.9 with no way to skip
   the check (later LLaMA-Factory releases made it skippable); we pin DeepSpeed 0.19.8 and test ZeRO-3
   with it (tests/test_train_launcher.py);
3. makes DeepSpeed close its gradient-accumulation windows where the Trainer does, epoch ends included
   (a backport of a later accelerate fix: see deepspeed_follows_the_trainers_boundaries).
Then it calls LLaMA-Factory's own training entry point (run_exp) in this process. It never goes through
`llamafactory-cli`, whose FORCE_TORCHRUN relaunch would start ranks in a fresh interpreter that has not
registered anything; the stage starts torchrun itself (skyt1.stages.train).

`python -m skyt1.stages.train_launcher --check ARGS.yaml OUT.json` parses the arguments and resolves the template
exactly as training would, formats the first training row, writes what it found to OUT.json and stops.
`python -m skyt1.stages.train_launcher --build-ops` compiles the DeepSpeed ops ZeRO-3 offload loads (DeepSpeed is
installed with DS_BUILD_OPS=0, so they are JIT-built at first use; `make install` builds them once, and the
train stage runs it on the training node before torchrun starts). A missing compiler is one line."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Where each template we register comes from (recorded in the checkpoint's provenance).
TEMPLATE_SOURCES = {
    "qwen25": "github.com/NovaSky-AI/SkyThought@0751518524a235b060894626cd6c5902a353770f:"
              "skythought/train/LLaMA-Factory/src/llamafactory/data/template.py",
}
QWEN25_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
# LLaMA-Factory 0.9.3's hparams/parser.py requires this range for DeepSpeed (mandatory=True).
_LF_DEEPSPEED_PIN = "deepspeed>=0.10.0,<=0.16.9"

_registered = False


def _template_classes():
    """Build the classes lazily: importing llamafactory is slow and pulls in torch."""
    from llamafactory.data.data_utils import Role
    from llamafactory.data.formatter import EmptyFormatter, Formatter, StringFormatter
    from llamafactory.data.template import Template

    @dataclass
    class ForkFunctionFormatter(Formatter):
        """Assistant tool calls as the fork writes them with the default tool format: for every call
        "Action: NAME\\nAction Input: ARGS\\n" followed by the eos token (0.9.3 joins the calls with a
        newline and puts a single eos at the end instead)."""

        def apply(self, **kwargs):
            content = kwargs.pop("content")
            try:
                calls = json.loads(content)
            except json.JSONDecodeError:
                raise RuntimeError(f"Invalid JSON format in function message: {[content]}")
            if not isinstance(calls, list):
                calls = [calls]
            elements = []
            for call in calls:
                args = json.dumps(call["arguments"], ensure_ascii=False)
                elements += [f"Action: {call['name']}\nAction Input: {args}\n", {"eos_token"}]
            return elements

    @dataclass
    class Qwen25Template(Template):
        """0.9.3's Template plus the fork's turn separator.

        The fork (LLaMA-Factory 0.9.2.dev0) ended an assistant turn with the eos token and put a separator
        in front of every later user turn, inside the prompt part (so it is never trained on); 0.9.3 has
        no separator and folds turn endings into the assistant formatter. For qwen25 the separator is
        "\\n" and the eos is <|endoftext|>, so an assistant turn ends "...<|endoftext|>" (no <|im_end|>)."""

        format_separator: Any = field(default=None)

        def _encode(self, tokenizer, messages, system, tools):
            system = system or self.default_system
            encoded = []
            for i, message in enumerate(messages):
                elements = []
                if i == 0:
                    elements += self.format_prefix.apply()
                    if system or tools:
                        tool_text = self.format_tools.apply(content=tools)[0] if tools else ""
                        elements += self.format_system.apply(content=(system + tool_text))
                if i > 0 and i % 2 == 0:
                    elements += self.format_separator.apply()
                role = message["role"]
                if role == Role.USER:
                    elements += self.format_user.apply(content=message["content"], idx=str(i // 2))
                elif role == Role.ASSISTANT:
                    elements += self.format_assistant.apply(content=message["content"])
                elif role == Role.OBSERVATION:
                    elements += self.format_observation.apply(content=message["content"])
                elif role == Role.FUNCTION:
                    elements += self.format_function.apply(content=message["content"])
                else:
                    raise NotImplementedError(f"Unexpected role: {role}")
                encoded.append(self._convert_elements_to_ids(tokenizer, elements))
            return encoded

        def _get_jinja_template(self, tokenizer):
            # Only used when the tokenizer has no chat template (replace_jinja_template is False, as in the
            # fork): the fork renders the separator after each assistant turn.
            saved = self.format_assistant
            self.format_assistant = StringFormatter(slots=saved.apply() + self.format_separator.apply())
            try:
                return super()._get_jinja_template(tokenizer)
            finally:
                self.format_assistant = saved

    return Qwen25Template, ForkFunctionFormatter, StringFormatter, EmptyFormatter


def qwen25_template():
    """The fork's `qwen25`, field by field (SkyThought skythought/train/LLaMA-Factory, data/template.py)."""
    from llamafactory.data.formatter import ToolFormatter
    from llamafactory.data.mm_plugin import get_mm_plugin

    Qwen25Template, ForkFunctionFormatter, StringFormatter, EmptyFormatter = _template_classes()
    user = StringFormatter(slots=["<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n"])
    return Qwen25Template(
        format_user=user,
        # not set in the fork, so its default: the content, then the (replaced) eos token
        format_assistant=StringFormatter(slots=["{{content}}", {"eos_token"}]),
        format_system=StringFormatter(slots=["<|im_start|>system\n{{content}}<|im_end|>\n"]),
        format_function=ForkFunctionFormatter(slots=[], tool_format="default"),
        format_observation=StringFormatter(slots=["<|im_start|>tool\n{{content}}<|im_end|>\n<|im_start|>assistant\n"]),
        format_tools=ToolFormatter(tool_format="default"),
        format_prefix=EmptyFormatter(),
        format_separator=EmptyFormatter(slots=["\n"]),
        default_system=QWEN25_DEFAULT_SYSTEM,
        stop_words=["<|endoftext|>"],
        thought_words=("<think>", "</think>"),  # 0.9.3's default; the fork has no notion of it
        efficient_eos=False,
        replace_eos=True,
        replace_jinja_template=False,
        enable_thinking=True,
        mm_plugin=get_mm_plugin(name="base"),
    )


def register_templates() -> None:
    """Add our templates to LLaMA-Factory's registry (idempotent). A LLaMA-Factory that already has a
    template of that name is not silently overridden: that would change what the recipe trains on."""
    global _registered
    if _registered:
        return
    from llamafactory.data import template as lf_template

    from ..core.errors import SkyT1Error

    if "qwen25" in lf_template.TEMPLATES:
        raise SkyT1Error("LLaMA-Factory already defines a template named 'qwen25'; ours would replace it",
                         "use the pinned llamafactory==0.9.3 (envs/train.yaml), or compare the two and rename ours")
    lf_template.TEMPLATES["qwen25"] = qwen25_template()
    _registered = True


def relax_deepspeed_pin() -> None:
    """Check DeepSpeed is installed instead of 0.9.3's mandatory <=0.16.9 (the pin names DeepSpeed issue
    7347; LLaMA-Factory's later releases keep it as a skippable warning)."""
    from llamafactory.hparams import parser

    original = parser.check_version
    if getattr(original, "_skyt1", False):
        return

    def check_version(requirement: str, mandatory: bool = False) -> None:
        if requirement == _LF_DEEPSPEED_PIN:
            return original("deepspeed>=0.10.0", mandatory=True)
        return original(requirement, mandatory=mandatory)

    check_version._skyt1 = True
    parser.check_version = check_version


def deepspeed_follows_the_trainers_boundaries() -> None:
    """Tell DeepSpeed where the Trainer's gradient-accumulation windows end (accelerate PR #3630, in
    accelerate after 1.7.0, backported: 1.7.0 is LLaMA-Factory 0.9.3's ceiling).

    accelerate 1.7.0's DeepSpeedEngineWrapper.backward calls engine.step() after every micro-batch and lets
    DeepSpeed count its own window of gradient_accumulation_steps micro-batches, across epochs. transformers'
    Trainer closes a window at each epoch's end as well (a partial window, `sync_gradients`); DeepSpeed does
    not, so that update is lost and later windows straddle epochs. In the 32B run (accumulation 12, ~2,100
    micro-batches per rank and epoch) that is about 3 of 534 updates; with fewer micro-batches per epoch than
    one window DeepSpeed never updates at all while the Trainer logs every step (found by the smoke run,
    config/smoke-32b.yaml: 2 rows, 3 epochs, the checkpoint came out with the student's weights).
    Here the boundary is the Trainer's (accelerate's GradientState.sync_gradients, which the Trainer sets
    before each micro-batch) and engine.step() runs on it, as in later accelerate releases."""
    from accelerate.state import GradientState
    from accelerate.utils import deepspeed as accelerate_deepspeed

    wrapper = accelerate_deepspeed.DeepSpeedEngineWrapper
    if getattr(wrapper.backward, "_skyt1", False):
        return

    def backward(self, loss, sync_gradients: bool | None = None, **kwargs):
        if sync_gradients is None:
            sync_gradients = GradientState().sync_gradients
        self.engine.set_gradient_accumulation_boundary(is_boundary=sync_gradients)
        self.engine.backward(loss, **kwargs)
        if sync_gradients:
            self.engine.step()

    backward._skyt1 = True
    wrapper.backward = backward


def prepare() -> None:
    register_templates()
    relax_deepspeed_pin()
    deepspeed_follows_the_trainers_boundaries()


def read_args(path: str | Path) -> dict:
    args = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(args, dict):
        from ..core.errors import SkyT1Error

        raise SkyT1Error(f"{path} does not hold a mapping of LLaMA-Factory arguments", "let the train stage write it")
    return args


def check(args: dict) -> dict:
    """Everything LLaMA-Factory resolves before training, plus the first training row as it will be fed."""
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    model_args, data_args, training_args, finetuning_args, _ = get_train_args(dict(args))
    tokenizer = load_tokenizer(model_args)["tokenizer"]
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    data = get_dataset(template, model_args, data_args, training_args, stage="sft", tokenizer=tokenizer)
    row = data["train_dataset"][0]
    ids, labels = list(row["input_ids"]), list(row["labels"])
    return {
        "template": data_args.template,
        "template_class": type(template).__name__,
        "eos_token": tokenizer.eos_token, "pad_token": tokenizer.pad_token,
        "stop_token_ids": sorted(template.get_stop_token_ids(tokenizer)),
        "deepspeed": training_args.deepspeed, "world_size": training_args.world_size,
        "parallel_mode": str(training_args.parallel_mode),
        "ddp_timeout": training_args.ddp_timeout,
        "preprocessing_num_workers": data_args.preprocessing_num_workers,
        "cutoff_len": data_args.cutoff_len, "max_samples": data_args.max_samples,
        "learning_rate": training_args.learning_rate, "num_train_epochs": training_args.num_train_epochs,
        "per_device_train_batch_size": training_args.per_device_train_batch_size,
        "gradient_accumulation_steps": training_args.gradient_accumulation_steps,
        "lr_scheduler_type": str(training_args.lr_scheduler_type.value), "warmup_ratio": training_args.warmup_ratio,
        "bf16": training_args.bf16, "plot_loss": finetuning_args.plot_loss, "run_name": training_args.run_name,
        "save_steps": training_args.save_steps, "logging_steps": training_args.logging_steps,
        "first_row": {
            "input_ids": ids, "labels": labels,
            "text": tokenizer.decode(ids, skip_special_tokens=False),
            "trained_text": tokenizer.decode([t for t in labels if t != -100], skip_special_tokens=False),
        },
    }


# What ZeRO-3 with optimizer offload compiles on first use: the CPU Adam that replaces the trainer's
# optimizer, and (on the CPU accelerator) the shared-memory collectives. Under the CUDA accelerator of
# DeepSpeed 0.19.8 CPU-Adam is the plain C++ builder (deepspeed/ops/op_builder/cpu/cpu_adam.py, a
# CppExtension: a C++ compiler with OpenMP, and ninja); CUDA builders (CUDAOpBuilder) need nvcc as well.
DEEPSPEED_OPS = ("CPUAdamBuilder", "ShareMemCommBuilder")


def extensions_dir() -> str:
    """Where torch's JIT keeps the compiled ops: one folder per CPU model. CPU-Adam is compiled with
    -march=native and torch reuses a build whose sources and flags are unchanged, so a shared home used
    by nodes of two CPU generations would hand one node the other's instructions. An explicit
    TORCH_EXTENSIONS_DIR wins."""
    import hashlib
    import os
    import platform

    if os.environ.get("TORCH_EXTENSIONS_DIR"):
        return os.environ["TORCH_EXTENSIONS_DIR"]
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    cpu = [next((l for l in lines if l.startswith(k)), "") for k in ("model name", "flags")]
    tag = hashlib.sha256("\n".join([platform.machine(), *cpu]).encode()).hexdigest()[:12]
    folder = Path.home() / ".cache" / "torch_extensions" / f"skyt1-{tag}"
    os.environ["TORCH_EXTENSIONS_DIR"] = str(folder)
    return str(folder)


def toolchain_problem(builders, cxx: str | None = None) -> str | None:
    """What is missing to compile these op builders, or None."""
    import os
    import re
    import shutil
    import subprocess

    import torch
    from torch.utils import cpp_extension

    cxx = cxx or os.environ.get("CXX") or "c++"
    if shutil.which(cxx) is None:
        return f"no C++ compiler ({cxx!r} is not on PATH)"
    if not cpp_extension.is_ninja_available():
        return "ninja is not installed"
    from deepspeed.ops.op_builder.builder import CUDAOpBuilder

    if torch.version.cuda and any(isinstance(b, CUDAOpBuilder) for b in builders):
        nvcc = Path(cpp_extension.CUDA_HOME or "/nonexistent") / "bin" / "nvcc"
        if not nvcc.exists():
            return f"no CUDA toolkit (nvcc) for torch's CUDA {torch.version.cuda} (CUDA_HOME={cpp_extension.CUDA_HOME})"
        out = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True).stdout
        release = re.search(r"release (\d+)\.(\d+)", out)
        if release and release.group(1) != torch.version.cuda.split(".")[0]:
            return f"nvcc {release.group(1)}.{release.group(2)} ({nvcc}) does not match torch's CUDA {torch.version.cuda}"
    return None


def build_ops() -> list[str]:
    """Compile (or find compiled) the ops training will load, before the first step: one clear error
    here instead of a compiler traceback from every rank inside the first optimizer step."""
    import deepspeed.ops
    from deepspeed.accelerator import get_accelerator

    from ..core.errors import SkyT1Error

    extensions_dir()
    builders = []
    for name in DEEPSPEED_OPS:
        builder = get_accelerator().create_op_builder(name)
        if builder is None or not deepspeed.ops.__compatible_ops__.get(builder.NAME, False):
            continue  # not used with this accelerator
        builders.append(builder)
    names = ", ".join(b.NAME for b in builders)
    problem = toolchain_problem(builders) if builders else None
    if problem:
        raise SkyT1Error(f"DeepSpeed's ops ({names}, {get_accelerator().device_name()} accelerator) must be compiled "
                         f"before training and {problem}",
                         "build the training environment from envs/train.yaml (conda-forge cxx-compiler, ninja, "
                         "cuda-nvcc of torch's CUDA), or put a C++ compiler on PATH / set CXX and CUDA_HOME")
    for builder in builders:
        builder.load()
    return [b.NAME for b in builders]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: python -m skyt1.stages.train_launcher ARGS.yaml | --check ARGS.yaml OUT.json | --build-ops"
    if argv == ["--build-ops"]:
        from ..core.errors import SkyT1Error

        try:
            built = build_ops()
        except SkyT1Error as e:
            print(f"skyt1 error: {e}", file=sys.stderr, flush=True)
            return 1
        print("DeepSpeed ops ready:", ", ".join(built) or "none needed", "in", extensions_dir())
        return 0
    if argv[:1] == ["--check"] and len(argv) == 3:
        prepare()
        report = check(read_args(argv[1]))
        import torch.distributed as dist

        if not dist.is_initialized() or dist.get_rank() == 0:
            from ..core.io import write_text

            write_text(argv[2], json.dumps(report, indent=2) + "\n")
        return 0
    if len(argv) != 1 or argv[0].startswith("-"):
        print(usage, file=sys.stderr)
        return 2
    prepare()
    extensions_dir()  # the same compiled ops the stage's --build-ops made before torchrun
    from llamafactory.train.tuner import run_exp

    run_exp(read_args(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
