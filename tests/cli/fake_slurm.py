"""A stand-in for SLURM's `sbatch`, `srun` and `sacct` on one machine, so that `hydra/launcher=slurm` can be run
end to end in a test: submitit writes its real submission script and this runs it as SLURM would.

    fake_slurm.py sbatch FILE   copy FILE, print "Submitted batch job ID" and run FILE's array tasks in a
                                detached process (submitit moves the job pickles into place only after sbatch
                                returns), each with the SLURM_* variables that submitit's job reads
    fake_slurm.py srun [--unbuffered] [--output F] [--error F] CMD...
                                run CMD with stdout/stderr appended to F, %A %a %j %t filled in as SLURM does
    fake_slurm.py sacct ... -j ID ...
                                the state of each task: RUNNING until it ends, then COMPLETED or FAILED, so that
                                submitit stops waiting for a task that died without writing its result

State (job counter, script copies, task states) lives in $FAKE_SLURM_DIR. Only what submitit uses is handled.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

STATE = Path(os.environ.get("FAKE_SLURM_DIR", "."))


def sbatch(script: str) -> None:
    text = Path(script).read_text()
    array = re.search(r"^#SBATCH --array=0-(\d+)%(\d+)$", text, re.MULTILINE)
    n_tasks, parallel = (int(array[1]) + 1, int(array[2])) if array else (1, 1)
    counter = STATE / "next_job_id"
    job_id = int(counter.read_text()) if counter.exists() else 4242
    counter.write_text(str(job_id + 1000))
    copy = STATE / f"{job_id}.sh"  # sbatch reads the script at submission, as SLURM does
    copy.write_text(text)
    tasks = [f"{job_id}_{a}" if array else str(job_id) for a in range(n_tasks)]
    (STATE / f"{job_id}.json").write_text(json.dumps(dict.fromkeys(tasks, "RUNNING")))
    subprocess.Popen([sys.executable, __file__, "_run", str(job_id), str(n_tasks), str(parallel), str(bool(array))],
                     start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
    print(f"Submitted batch job {job_id}")


def run_tasks(job_id: str, n_tasks: int, parallel: int, is_array: bool) -> None:
    """Run the array tasks, at most `parallel` at once (the %N of --array), each in a fresh environment."""
    pending, running = list(range(n_tasks)), {}
    while pending or running:
        while pending and len(running) < parallel:
            a = pending.pop(0)
            # An array task has its own job id in SLURM; submitit names its files by ARRAY_JOB_ID_TASK_ID.
            own_id = str(int(job_id) + 1 + a) if is_array else job_id
            env = {**os.environ, "SLURM_JOB_ID": own_id, "SLURM_NTASKS": "1", "SLURM_PROCID": "0",
                   "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_JOB_NUM_NODES": "1",
                   "SLURM_JOB_NODELIST": "localhost"}
            if is_array:
                env |= {"SLURM_ARRAY_JOB_ID": job_id, "SLURM_ARRAY_TASK_ID": str(a)}
            running[a] = subprocess.Popen(["bash", str(STATE / f"{job_id}.sh")], env=env)
        a = next(iter(running))
        code = running.pop(a).wait()
        states_file = STATE / f"{job_id}.json"
        states = json.loads(states_file.read_text())
        states[f"{job_id}_{a}" if is_array else job_id] = "COMPLETED" if code == 0 else "FAILED"
        states_file.write_text(json.dumps(states))


def srun(args: list[str]) -> None:
    files = {}
    while args and args[0].startswith("--"):
        flag = args.pop(0)
        if flag in ("--output", "--error"):
            files[flag] = args.pop(0)
    fill = {"%A": os.environ.get("SLURM_ARRAY_JOB_ID", ""), "%a": os.environ.get("SLURM_ARRAY_TASK_ID", ""),
            "%j": os.environ["SLURM_JOB_ID"], "%t": os.environ["SLURM_PROCID"]}

    def path(flag):
        name = files.get(flag)
        if name is None:
            return None
        for pattern, value in fill.items():
            name = name.replace(pattern, value)
        return open(name, "a")

    out = path("--output")
    sys.exit(subprocess.run(args, check=False, stdout=out, stderr=path("--error") or out).returncode)


def sacct(args: list[str]) -> None:
    wanted = [args[i + 1] for i, a in enumerate(args) if a == "-j"]
    print("JobID|State|NodeList")
    for job_id in wanted:
        states_file = STATE / f"{job_id}.json"
        if states_file.exists():
            for task, state in json.loads(states_file.read_text()).items():
                print(f"{task}|{state}|localhost")


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "sbatch":
        sbatch(rest[-1])
    elif command == "_run":
        run_tasks(rest[0], int(rest[1]), int(rest[2]), rest[3] == "True")
    elif command == "srun":
        srun(rest)
    elif command == "sacct":
        sacct(rest)
    else:
        sys.exit(f"fake_slurm: {command} is not implemented")
