"""A throw-away JupyterLab for the browser test: the course venv's ``jupyter lab`` on a free port, with a
token, over a temporary copy of the student notebooks, with the course's settings (the same files the
Makefile installs into the venv), and everything it started stopped again, kernels included."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

COURSE = Path(__file__).resolve().parents[1]
LAB_OVERRIDES = COURSE / "jupyterlab-overrides.json"
SERVER_CONFIG = COURSE / "jupyter_server_config.json"


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """``with LabServer(notebooks) as lab:`` serves a copy of ``notebooks`` at ``lab.url``."""

    def __init__(self, notebooks: Path, log_path: Path, startup_timeout: float = 90.0):
        self.notebooks, self.log_path, self.startup_timeout = Path(notebooks), Path(log_path), startup_timeout
        self.token, self.port = secrets.token_hex(16), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "LabServer":
        self.tmp = Path(tempfile.mkdtemp(prefix="minseg-browser-"))
        self.root = self.tmp / "notebooks"
        shutil.copytree(self.notebooks, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _settings_dirs(self) -> dict[str, str]:
        """Fresh user settings / workspaces / runtime dirs, the course's lab overrides and server config."""
        app_settings = self.tmp / "app-settings"
        venv_settings = Path(sys.prefix) / "share/jupyter/lab/settings"
        if venv_settings.is_dir():
            shutil.copytree(venv_settings, app_settings)
        app_settings.mkdir(exist_ok=True)
        shutil.copy(LAB_OVERRIDES, app_settings / "overrides.json")
        config = self.tmp / "config"  # (a jupyter_server_config.d/ there would only enable extensions)
        config.mkdir()
        shutil.copy(SERVER_CONFIG, config / "jupyter_server_config.json")
        dirs = {name: self.tmp / name for name in ("user-settings", "workspaces", "runtime")}
        for path in dirs.values():
            path.mkdir()
        return {"app_settings": str(app_settings), "config": str(self.tmp / "config"),
                **{name: str(path) for name, path in dirs.items()}}

    def _start(self) -> None:
        dirs = self._settings_dirs()
        env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=dirs["user-settings"],
                   JUPYTERLAB_WORKSPACES_DIR=dirs["workspaces"], JUPYTER_RUNTIME_DIR=dirs["runtime"],
                   JUPYTER_CONFIG_PATH=os.pathsep.join(
                       filter(None, [dirs["config"], os.environ.get("JUPYTER_CONFIG_PATH")])))
        env.pop("MPLBACKEND", None)  # leaks into the kernel: figures would silently vanish
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={self.port}",
                   "--ip=127.0.0.1", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                   f"--LabApp.app_settings_dir={dirs['app_settings']}", "--LabApp.expose_app_in_browser=True",
                   "--ServerApp.open_browser=False", "--LabServerApp.open_browser=False",
                   "--ServerApp.terminals_enabled=False"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}; see {self.log_path}")
            try:
                self.api("GET", "status")
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"jupyter lab did not answer within {self.startup_timeout:.0f} s; see {self.log_path}")

    def api(self, method: str, path: str):
        """One REST call to the server (JSON answer or None)."""
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def lab_url(self, path: str = "") -> str:
        return f"{self.url}/lab{'/tree/' + path if path else ''}?token={self.token}"

    def shutdown_kernels(self) -> None:
        """Stop every kernel the server runs (through its API)."""
        for kernel in self.api("GET", "kernels") or []:
            self.api("DELETE", f"kernels/{kernel['id']}")

    def _leftover_kernel_pids(self) -> list[int]:
        """Processes whose command line names a connection file in this server's runtime dir."""
        runtime, pids = str(self.tmp / "runtime"), []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if runtime in cmdline and int(entry.name) != os.getpid():
                pids.append(int(entry.name))
        return pids

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.shutdown_kernels()
            except OSError:
                pass
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        for pid in self._leftover_kernel_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
