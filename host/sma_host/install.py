"""``sma-host install | uninstall | doctor``: the native-messaging host manifest where
Thunderbird looks for it, on Linux, macOS and Windows.

Thunderbird finds a host by name: a JSON manifest in a per-OS directory (Linux, macOS) or
a registry key pointing at one (Windows). The manifest's ``path`` must be an absolute path
to an executable; Thunderbird runs it with the manifest path and the add-on id.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

HOST_NAME = "org_autocrypt_sma_host"
ADDON_ID = "sma-host@autocrypt.org"
_NAME_RULE = re.compile(r"^\w+(\.\w+)*$")
REGISTRY_KEY = rf"Software\Mozilla\NativeMessagingHosts\{HOST_NAME}"
REQUIRED_MODULES = ("imapclient", "jsonschema", "cryptography", "spake2", "platformdirs")


class Registry(Protocol):
    """The little of ``winreg`` the installer needs (a stub stands in off Windows)."""

    def set_default(self, root: str, key: str, value: str) -> None: ...
    def get_default(self, root: str, key: str) -> str | None: ...
    def delete(self, root: str, key: str) -> bool: ...


def _winreg() -> Any:
    import importlib

    return importlib.import_module("winreg")


class WinRegistry:
    """``HKCU``/``HKLM`` through ``winreg`` (Windows only)."""

    def _root(self, root: str) -> object:
        winreg = _winreg()

        return winreg.HKEY_CURRENT_USER if root == "HKCU" else winreg.HKEY_LOCAL_MACHINE

    def set_default(self, root: str, key: str, value: str) -> None:
        winreg = _winreg()

        with winreg.CreateKey(self._root(root), key) as handle:
            winreg.SetValueEx(handle, "", 0, winreg.REG_SZ, value)

    def get_default(self, root: str, key: str) -> str | None:
        winreg = _winreg()

        try:
            with winreg.OpenKey(self._root(root), key) as handle:
                return str(winreg.QueryValueEx(handle, "")[0])
        except OSError:
            return None

    def delete(self, root: str, key: str) -> bool:
        winreg = _winreg()

        try:
            winreg.DeleteKey(self._root(root), key)
        except OSError:
            return False
        return True


@dataclass
class Target:
    """Where one installation lives on this OS and scope."""

    manifests: list[Path]
    registry: tuple[str, str] | None = None  # (root, key) on Windows
    launcher: Path | None = None  # Windows: a .bat that runs Python unbuffered


@dataclass
class Environment:
    """Everything the installer reads about the machine: injectable, so tests use a temp HOME."""

    platform: str = sys.platform
    home: Path = field(default_factory=Path.home)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    executable: Path = field(default_factory=lambda: Path(sys.executable))
    host_command: Path | None = None  # the ``sma-host`` console script, when known
    registry: Registry | None = None
    is_root: bool = field(default_factory=lambda: hasattr(os, "geteuid") and os.geteuid() == 0)

    def target(self, system: bool) -> Target:
        if self.platform.startswith("linux"):
            if system:
                roots = [Path("/usr/lib/mozilla/native-messaging-hosts")]
                if Path("/usr/lib64").is_dir():
                    roots.append(Path("/usr/lib64/mozilla/native-messaging-hosts"))
            else:
                # Thunderbird reads the Firefox directory, never ~/.thunderbird.
                roots = [self.home / ".mozilla" / "native-messaging-hosts"]
            return Target([r / f"{HOST_NAME}.json" for r in roots])
        if self.platform == "darwin":
            if system:
                roots = [Path("/Library/Application Support/Mozilla/NativeMessagingHosts")]
            else:
                # Thunderbird's own directory, and Firefox's, which later versions may read.
                roots = [
                    self.home / "Library" / "Mozilla" / "NativeMessagingHosts",
                    self.home
                    / "Library"
                    / "Application Support"
                    / "Mozilla"
                    / "NativeMessagingHosts",
                ]
            return Target([r / f"{HOST_NAME}.json" for r in roots])
        if self.platform == "win32":
            base = (
                Path(self.env.get("PROGRAMDATA" if system else "LOCALAPPDATA", self.home))
                / "sma-host"
            )
            return Target(
                [base / f"{HOST_NAME}.json"],
                registry=("HKLM" if system else "HKCU", REGISTRY_KEY),
                launcher=base / "sma-host.bat",
            )
        raise SystemExit(f"sma-host install: unsupported platform {self.platform}")

    def command_path(self) -> Path:
        """The absolute executable Thunderbird should start."""
        if self.host_command is not None:
            return self.host_command
        candidate = self.executable.parent / (
            "sma-host.exe" if self.platform == "win32" else "sma-host"
        )
        return candidate


def manifest_text(path: Path) -> str:
    template = resources.files("sma_host").joinpath("manifest.json.in").read_text("utf-8")
    filled = template.replace("@PATH@", json.dumps(str(path))[1:-1]).replace("@ADDON_ID@", ADDON_ID)
    json.loads(filled)  # a template that is no longer JSON is a bug here, not at the user's
    return filled


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    problems: int = 0

    def ok(self, text: str) -> None:
        self.lines.append(f"ok       {text}")

    def problem(self, text: str) -> None:
        self.lines.append(f"PROBLEM  {text}")
        self.problems += 1

    def did(self, text: str) -> None:
        self.lines.append(text)


def install(env: Environment, system: bool, dry_run: bool, force: bool) -> Report:
    report = Report()
    if env.is_root and not system and not force:
        report.problem(
            "refusing --user as root: that installs into root's home, where your Thunderbird"
            " will not look. Run it as yourself, or use --system (or --force if you mean it)."
        )
        return report
    target = env.target(system)
    command = env.command_path()
    if target.launcher is not None:
        launcher_text = f'@echo off\r\n"{env.executable}" -u -m sma_host %*\r\n'
        report.did(f"write {target.launcher}")
        if not dry_run:
            target.launcher.parent.mkdir(parents=True, exist_ok=True)
            target.launcher.write_text(launcher_text, "utf-8")
        command = target.launcher
    elif not _is_executable(command):
        report.problem(f"{command} is not an executable file: is sma-host installed?")
        return report
    text = manifest_text(command)
    for manifest in target.manifests:
        report.did(f"write {manifest}")
        if not dry_run:
            manifest.parent.mkdir(parents=True, exist_ok=True)
            tmp = manifest.with_suffix(".json.tmp")
            tmp.write_text(text, "utf-8")
            os.chmod(tmp, 0o644)
            os.replace(tmp, manifest)
    if target.registry is not None:
        root, key = target.registry
        report.did(rf"set {root}\{key} = {target.manifests[0]}")
        if not dry_run:
            _registry(env).set_default(root, key, str(target.manifests[0]))
    if dry_run:
        report.did("(dry run: nothing was written)")
    return report


def uninstall(env: Environment, system: bool, dry_run: bool) -> Report:
    """Remove exactly what ``install`` writes, and only if it is ours."""
    report = Report()
    target = env.target(system)
    for manifest in target.manifests:
        if not manifest.exists():
            continue
        if _manifest_name(manifest) != HOST_NAME:
            report.problem(f"{manifest} is not sma-host's manifest: left alone")
            continue
        report.did(f"remove {manifest}")
        if not dry_run:
            manifest.unlink()
    if target.launcher is not None and target.launcher.exists():
        report.did(f"remove {target.launcher}")
        if not dry_run:
            target.launcher.unlink()
    if target.registry is not None:
        root, key = target.registry
        registry = _registry(env)
        if registry.get_default(root, key) is not None:
            report.did(rf"delete {root}\{key}")
            if not dry_run:
                registry.delete(root, key)
    if not report.lines:
        report.did("nothing to remove")
    return report


def doctor(
    env: Environment, system: bool, importable: Callable[[str], bool] | None = None
) -> Report:
    """Check an installation the way Thunderbird will use it; say what is wrong."""
    report = Report()
    target = env.target(system)
    found = [m for m in target.manifests if m.exists()]
    if target.registry is not None:
        root, key = target.registry
        value = _registry(env).get_default(root, key)
        if value is None:
            report.problem(rf"registry key {root}\{key} is missing: run sma-host install")
        elif Path(value) not in target.manifests:
            report.problem(rf"{root}\{key} points at {value}, not at {target.manifests[0]}")
        else:
            report.ok(rf"{root}\{key} → {value}")
    if not found:
        report.problem(
            "no host manifest in "
            + ", ".join(str(m.parent) for m in target.manifests)
            + f": run sma-host install {'--system' if system else '--user'}"
        )
    for manifest in found:
        _check_manifest(manifest, report)
    check = importable or _importable
    missing = [m for m in REQUIRED_MODULES if not check(m)]
    if missing:
        report.problem(f"{env.executable} lacks Python modules: {', '.join(missing)}")
    else:
        report.ok(f"Python modules present ({env.executable})")
    for sandbox in _sandboxed_thunderbirds(env):
        report.problem(
            f"{sandbox}: a sandboxed Thunderbird may not be able to start native hosts"
            " (see the README)"
        )
    return report


def _check_manifest(manifest: Path, report: Report) -> None:
    try:
        data = json.loads(manifest.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        report.problem(f"{manifest} is not readable JSON ({exc})")
        return
    if not isinstance(data, dict):
        report.problem(f"{manifest} is not a JSON object")
        return
    name = data.get("name")
    if name != manifest.stem or not isinstance(name, str) or not _NAME_RULE.match(name):
        report.problem(f"{manifest}: name {name!r} must match the file name and ^\\w+(\\.\\w+)*$")
    if data.get("type") != "stdio":
        report.problem(f'{manifest}: type must be "stdio", not {data.get("type")!r}')
    allowed = data.get("allowed_extensions")
    if not isinstance(allowed, list) or ADDON_ID not in allowed:
        report.problem(f"{manifest}: allowed_extensions must list the add-on id {ADDON_ID}")
    path = data.get("path")
    if not isinstance(path, str) or not Path(path).is_absolute():
        report.problem(f"{manifest}: path {path!r} must be absolute")
    elif not _is_executable(Path(path)) and not path.lower().endswith(".bat"):
        report.problem(f"{manifest}: {path} does not exist or is not executable")
    if report.problems == 0:
        report.ok(f"{manifest} → {path}")


def _manifest_name(manifest: Path) -> str | None:
    try:
        data = json.loads(manifest.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("name") if isinstance(data, dict) else None


def _is_executable(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and os.access(path, os.X_OK)


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _sandboxed_thunderbirds(env: Environment) -> list[str]:
    if not env.platform.startswith("linux"):
        return []
    candidates = {
        "Snap Thunderbird": [Path("/snap/thunderbird")],
        "Flatpak Thunderbird": [
            Path("/var/lib/flatpak/app/org.mozilla.Thunderbird"),
            env.home / ".local/share/flatpak/app/org.mozilla.Thunderbird",
        ],
    }
    return [name for name, paths in candidates.items() if any(p.exists() for p in paths)]


def _registry(env: Environment) -> Registry:
    if env.registry is None:
        env.registry = WinRegistry()
    return env.registry


def main(argv: Sequence[str]) -> int:
    """``sma-host install|uninstall|doctor [--user|--system] [--dry-run] [--force]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="sma-host", description="Install the native-messaging host for Thunderbird."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("install", "write the host manifest where Thunderbird looks for it"),
        ("uninstall", "remove what install wrote"),
        ("doctor", "check an installation and say what is wrong"),
    ):
        command = sub.add_parser(name, help=helptext)
        scope = command.add_mutually_exclusive_group()
        scope.add_argument("--user", action="store_true", help="for this user (default)")
        scope.add_argument("--system", action="store_true", help="for every user (needs admin)")
        if name != "doctor":
            command.add_argument("--dry-run", action="store_true", help="say what would change")
        if name == "install":
            command.add_argument("--force", action="store_true", help="allow --user as root")
    args = parser.parse_args(list(argv))
    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    env = Environment(
        host_command=script if script and script.name.startswith("sma-host") else None
    )
    if args.command == "install":
        report = install(env, args.system, args.dry_run, args.force)
    elif args.command == "uninstall":
        report = uninstall(env, args.system, args.dry_run)
    else:
        report = doctor(env, args.system)
    print("\n".join(report.lines))
    return 1 if report.problems else 0
