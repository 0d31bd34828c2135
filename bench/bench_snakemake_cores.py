"""Does this snakemake keep to --cores? The case of snakemake issue #3913 (9.10 to at least 9.16): one
job every other job needs, then several jobs that each want all the cores. Prints the most threads in
use at once over the cores given (1.00 = correct, 2.00 = two full-width jobs side by side).

    python bench/bench_snakemake_cores.py              # the snakemake of this interpreter
    python bench/bench_snakemake_cores.py /path/to/other/python
Measured 2026-12-01 on 2 cores: 9.16.3 2.00 and 9.27.1 1.00 with both schedulers; 9.9.0 1.00 (greedy)."""
import subprocess
import sys
import tempfile
from pathlib import Path

CORES = 2
SNAKEFILE = f'''
import time
rule final:
    input: "file1", "file2", "file3"
rule prepare:
    output: "common"
    threads: {CORES}
    shell: "touch {{output}}"
rule do_something:
    input: "common"
    output: "file{{number}}"
    threads: {CORES}
    run:
        t0 = time.time(); time.sleep(2); open(output[0], "w").write(f"{{t0}} {{time.time()}} {{threads}}")
'''


def peak_threads(workdir: Path) -> int:
    events = []
    for f in workdir.glob("file*"):
        start, end, threads = f.read_text().split()
        events += [(float(start), int(threads)), (float(end), -int(threads))]
    now = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        now += delta
        peak = max(peak, now)
    return peak


def main() -> None:
    python = sys.argv[1] if len(sys.argv) > 1 else sys.executable
    version = subprocess.run([python, "-m", "snakemake", "--version"], capture_output=True, text=True).stdout.strip()
    for scheduler in ("greedy", "ilp"):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            (work / "Snakefile").write_text(SNAKEFILE)
            proc = subprocess.run([python, "-m", "snakemake", "-c", str(CORES), "--scheduler", scheduler, "-q"],
                                  cwd=work, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"snakemake {version} {scheduler}: failed ({proc.stderr.strip().splitlines()[-1:]})")
                continue
            peak = peak_threads(work)
            print(f"snakemake {version} {scheduler}: peak threads / cores = {peak}/{CORES} = {peak / CORES:.2f}")


if __name__ == "__main__":
    main()
