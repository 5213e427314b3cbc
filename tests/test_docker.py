"""docker/: the Dockerfile (hadolint-clean, cuda12/cuda13/cpu), build.sh's choices (with a fake
engine), and the whole build-and-run of the CPU image where a container engine is usable."""

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "docker" / "Dockerfile"
BUILD = ROOT / "docker" / "build.sh"
SELFTEST = ROOT / "docker" / "selftest.sh"


def instructions(text):
    """(INSTRUCTION, arguments) pairs: comment lines dropped, continuation lines joined."""
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    text = re.sub(r"\\\n", " ", text)
    return [(op.upper(), rest.strip())
            for op, _, rest in (line.strip().partition(" ") for line in text.splitlines())
            if op]


def test_hadolint_is_clean():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip('hadolint not found: pip install -e ".[lint]"')
    r = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"hadolint exited {r.returncode}:\n{r.stdout}{r.stderr}"


def test_cmd_runs_whole_suite_and_arg_picks_the_extra():
    ins = instructions(DOCKERFILE.read_text())
    cmds = [rest for op, rest in ins if op == "CMD"]
    assert len(cmds) == 1 and json.loads(cmds[0]) == ["bash", "docker/selftest.sh"]

    # selftest.sh: the suite with nothing deselected (the gpu tests run where a GPU is usable)
    script = SELFTEST.read_text()
    runs = [line.split() for line in script.splitlines() if re.match(r"\s*(exec )?pytest", line)]
    assert len(runs) == 2  # on the CPU, and after the GPU check
    for run in runs:
        run = run[run.index("pytest"):]
        assert run[:2] == ["pytest", "tests"] and "-m" not in run and "-k" not in run
    gpu_path = script[script.index("python docker/check_gpu.py"):]
    assert "pytest tests" in gpu_path and "python benchmarks/bench_step.py --quick" in gpu_path

    args = {name: value.strip('"') for name, _, value in
            (rest.partition("=") for op, rest in ins if op == "ARG")}
    assert args["CUDA_EXTRA"] == "cuda12"
    # the default base image has the CUDA major version of the default extra
    assert re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-(base|runtime)-ubuntu2[24]\.04",
                        args["CUDA_IMAGE"])
    assert [rest for op, rest in ins if op == "FROM"] == ["${CUDA_IMAGE}"]
    # editable: `gpubp` and `python -m gpubp` (from /app, which is on its path) import one tree
    assert any('pip install --no-cache-dir -e "./[${CUDA_EXTRA},test]"' in rest
               for op, rest in ins if op == "RUN")
    pyproject = (ROOT / "pyproject.toml").read_text()
    for extra in ("cuda12", "cuda13"):  # every value of CUDA_EXTRA names a real extra
        assert re.search(rf'^\s*{extra}\s*=\s*\[\s*"cupy-{extra}x\[ctk\]', pyproject, re.M)
    assert re.search(r'^\s*cpu\s*=\s*\[', pyproject, re.M)


# --- build.sh with a fake engine: which engine, which base, what it says --------------------

FAKE_ENGINE = r"""#!/usr/bin/env bash
# A fake {name}: logs each call (and the containers.conf it was given) and plays a machine
# where {daemon}, {registry} and nothing has been built yet.
echo "{name} $*" >> "$FAKE_LOG"
[ -n "${{CONTAINERS_CONF:-}}" ] && [ -f "$CONTAINERS_CONF" ] && cp "$CONTAINERS_CONF" "$FAKE_LOG.conf"
case "$1" in
    --version) echo "{name} version 0.0-fake" ;;
    info) {info} ;;
    image) [ "$2" = inspect ] && {{ [ "$3" = --format ] && echo 123000000 && exit 0; \
           case " ${{FAKE_IMAGES:-}} " in *" $3 "*) exit 0 ;; esac; \
           grep -q "^{name} import .* $3\$" "$FAKE_LOG" || exit 1; }} ;;
    pull) {pull} ;;
    create) echo fakecontainer ;;
    build) for a in "$@"; do case "$a" in id=ca_bundle,src=*) cp "${{a#*src=}}" "$FAKE_LOG.ca" ;;
           esac; done ;;
esac
exit 0
"""

FAKE_MMDEBSTRAP = """#!/usr/bin/env bash
echo "mmdebstrap $*" >> "$FAKE_LOG"
for a in "$@"; do case "$a" in *.tar) : > "$a" ;; esac; done
"""


def fake_bin(tmp_path, docker_daemon=False):
    """docker, podman and mmdebstrap that log their calls; the registry answers only where
    docker's daemon does (a machine with docker, or a sandbox with podman)."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    registry = dict(registry="the registry answers", pull="exit 0") if docker_daemon else dict(
        registry="no registry answers",
        pull='echo "Error: pinging container registry: no such host" >&2; exit 125')
    no_daemon = 'echo "Cannot connect to the Docker daemon" >&2; exit 1'
    scripts = {
        "docker": FAKE_ENGINE.format(name="docker", info="exit 0" if docker_daemon else no_daemon,
                                     daemon="docker's daemon answers" if docker_daemon else
                                     "docker's daemon does not answer", **registry),
        "podman": FAKE_ENGINE.format(name="podman", info="exit 0", daemon="podman works",
                                     **registry),
        "mmdebstrap": FAKE_MMDEBSTRAP,
    }
    for name, text in scripts.items():
        (bin_ / name).write_text(text)
        (bin_ / name).chmod(stat.S_IRWXU)
    return bin_


def run_build(tmp_path, *args, docker_daemon=False, images=""):
    bin_ = fake_bin(tmp_path, docker_daemon)
    log, tmp = tmp_path / "log", tmp_path / "tmp"
    tmp.mkdir()
    unset = ("CONTAINERS_CONF", "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(PATH=f"{bin_}:{env['PATH']}", FAKE_LOG=str(log), TMPDIR=str(tmp), FAKE_IMAGES=images)
    r = subprocess.run(["bash", str(BUILD), *args], capture_output=True, text=True, env=env,
                       timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    assert list(tmp.iterdir()) == []  # its temporary files (conf, CA bundle, base.tar) removed
    return r, calls, tmp_path / "log.conf"


def test_without_a_docker_daemon_podman_builds_from_a_debian_base_and_says_so(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n")
    r, calls, conf = run_build(tmp_path, "--cpu", "--mirror", "http://mirror.example/debian",
                               "--suite", "bookworm", "--ca-bundle", str(ca))
    assert r.returncode == 0, r.stderr
    assert {c for c in calls if c.startswith("docker ")} == {"docker --version", "docker info"}
    # no registry: one line says so, and the base comes from Debian's packages
    said = [line for line in r.stderr.splitlines() if "no registry reachable" in line]
    assert len(said) == 1 and "mmdebstrap" in said[0] and "http://mirror.example/debian" in said[0]
    deb = next(c for c in calls if c.startswith("mmdebstrap "))
    assert deb.split()[-3] == "bookworm" and deb.endswith(" http://mirror.example/debian")
    assert "--include=python3,python3-venv,ca-certificates" in deb
    assert "podman import --change CMD [\"/bin/bash\"]" in next(c for c in calls if " import " in c)
    build = next(c for c in calls if c.startswith("podman build "))
    assert "CUDA_EXTRA=cpu" in build and "CUDA_IMAGE=localhost/gpubp-debian-base:bookworm " in build
    assert "--secret id=ca_bundle,src=" in build and "--ignorefile" in build
    assert build.endswith(f" -t gpubp:cpu --ignorefile {ROOT}/docker/Dockerfile.dockerignore {ROOT}")
    # the settings this kind of machine needs, in a containers.conf given to every podman call
    text = conf.read_text()
    assert 'runtime = "runc"' in text or shutil.which("runc") is None
    assert 'cgroup_manager = "cgroupfs"' in text and 'events_logger = "file"' in text
    assert re.search(r'default_ulimits = \["nofile=\d+:\d+", "nproc=\d+:\d+"\]', text)
    assert "built gpubp:cpu" in r.stderr and "123 MB" in r.stderr
    assert (tmp_path / "log.ca").read_text() == ca.read_text()  # the build's secret ca_bundle


def test_a_cuda_image_on_a_debian_base_gets_what_the_nvidia_toolkit_reads(tmp_path):
    r, calls, _ = run_build(tmp_path, "--cuda", "13", "--debian-base",
                            "--mirror", "http://mirror.example/debian", "--suite", "bookworm")
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if "as asked (--debian-base)" in line]
    assert len(said) == 1 and "building the base from Debian's packages with mmdebstrap" in said[0]
    assert not any(c.startswith("podman pull") for c in calls)
    commit = next(c for c in calls if c.startswith("podman commit "))
    for env in ("NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
                "NVIDIA_REQUIRE_CUDA=cuda>=13.0"):
        assert f"--change ENV {env} " in commit
    assert commit.endswith("localhost/gpubp-debian-base:bookworm-cuda13")
    build = next(c for c in calls if c.startswith("podman build "))
    assert "CUDA_EXTRA=cuda13" in build and " -t gpubp:cuda13 " in build
    assert (tmp_path / "log.ca").read_text() == ""  # no CA bundle asked for or in the environment


def test_a_debian_base_made_earlier_is_reused_and_the_reason_still_said(tmp_path):
    r, calls, _ = run_build(tmp_path, "--suite", "bookworm", "--test", "--rm",
                            images="localhost/gpubp-debian-base:bookworm")
    assert r.returncode == 0, r.stderr
    assert not any(c.startswith("mmdebstrap") or " import " in c for c in calls)
    said = [line for line in r.stderr.splitlines() if "no registry reachable" in line]
    assert len(said) == 1 and said[0].endswith(
        "; base: localhost/gpubp-debian-base:bookworm (made earlier from Debian's packages by "
        "build.sh)")
    assert next(c for c in calls if c.startswith("podman commit ")).endswith(
        "fakecontainer localhost/gpubp-debian-base:bookworm-cuda12")
    assert any(c.startswith("podman build ") and " -t gpubp:cuda12 " in c for c in calls)
    # --test --rm: the image's test command on the CPU, then the image removed
    assert calls[-2:] == ["podman run --rm gpubp:cuda12 bash docker/selftest.sh --cpu",
                          "podman rmi gpubp:cuda12"]
    assert "build.sh: removed gpubp:cuda12 (--rm)" in r.stderr


def test_a_docker_daemon_that_answers_is_used_and_bad_options_are_refused(tmp_path):
    r, calls, _ = run_build(tmp_path, "--cuda", "12", "--base", "nvidia/cuda:12.6.3-base-ubuntu24.04",
                            docker_daemon=True)
    assert r.returncode == 0, r.stderr
    assert not any(c.startswith("podman ") for c in calls)
    assert any(c.startswith("docker build ") and "CUDA_EXTRA=cuda12" in c for c in calls)
    assert "docker pull nvidia/cuda:12.6.3-base-ubuntu24.04" in calls
    bad = subprocess.run(["bash", str(BUILD), "--cuda", "11"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--cuda must be 12 or 13, not '11'" in bad.stderr


def test_no_engine_at_all_is_exit_3_with_what_to_install(tmp_path):
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for tool in ("bash", "dirname", "sed", "cat", "grep", "mktemp", "rm"):
        (bin_ / tool).symlink_to(shutil.which(tool))
    r = subprocess.run([str(bin_ / "bash"), str(BUILD), "--cpu"], capture_output=True, text=True,
                       env={"PATH": str(bin_)})
    assert r.returncode == 3 and "install docker, or podman (apt-get install podman)" in r.stderr


# --- the real thing ----------------------------------------------------------------------


def test_the_cpu_image_builds_and_its_suite_passes_inside():
    """docker/build.sh --cpu --test: the whole build, then the image's test command (the suite
    on the CPU) in a container, then the image removed. Skips where no engine can build
    (build.sh exits 3). About 4-6 minutes on a 2-core machine, 1 minute of it the Debian base
    the first time."""
    if os.environ.get("GPUBP_SKIP_IMAGE_BUILD"):
        pytest.skip("GPUBP_SKIP_IMAGE_BUILD is set")
    tag = f"localhost/gpubp-test:cpu-{os.getpid()}"  # its own: two runs at once do not mix
    r = subprocess.run(["bash", str(BUILD), "--cpu", "--tag", tag, "--test", "--rm"],
                       capture_output=True, text=True, timeout=1500)
    out = r.stdout + r.stderr
    if r.returncode == 3:
        pytest.skip("no container engine can build here: " + r.stderr.strip().splitlines()[-1])
    assert r.returncode == 0, out[-6000:]
    summary = [line for line in r.stdout.splitlines() if re.match(r"=+ .*\d+ passed", line)]
    assert len(summary) == 1, out[-6000:]
    assert int(re.search(r"(\d+) passed", summary[0]).group(1)) >= 1000
    assert not re.search(r"\d+ (failed|errors?)\b", summary[0]), summary[0]
    assert f"build.sh: removed {tag} (--rm)" in r.stderr
    # what was built and how long it took (shown by pytest -rP)
    print(*(line for line in r.stderr.splitlines() if line.startswith("build.sh: ")), sep="\n")
    print(summary[0])
