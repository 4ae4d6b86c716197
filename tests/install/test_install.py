"""``sma-host install | uninstall | doctor`` in a temporary HOME (and a stub registry)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from devtools.host_process import host_executable
from sma_host import install
from sma_host.install import ADDON_ID, HOST_NAME, Environment


class DictRegistry:
    """Stands in for winreg off Windows: same three operations, in a dict."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def set_default(self, root: str, key: str, value: str) -> None:
        self.values[(root, key)] = value

    def get_default(self, root: str, key: str) -> str | None:
        return self.values.get((root, key))

    def delete(self, root: str, key: str) -> bool:
        return self.values.pop((root, key), None) is not None


def env_for(platform: str, home: Path, **kwargs) -> Environment:  # type: ignore[no-untyped-def]
    return Environment(
        platform=platform,
        home=home,
        env={
            "LOCALAPPDATA": str(home / "AppData" / "Local"),
            "PROGRAMDATA": str(home / "ProgramData"),
        },
        host_command=host_executable(),
        is_root=False,
        **kwargs,
    )


def manifest_at(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux", [".mozilla/native-messaging-hosts"]),
        (
            "darwin",
            [
                "Library/Mozilla/NativeMessagingHosts",
                "Library/Application Support/Mozilla/NativeMessagingHosts",
            ],
        ),
    ],
)
def test_user_install_writes_where_thunderbird_looks(
    tmp_path: Path, platform: str, expected: list[str]
) -> None:
    env = env_for(platform, tmp_path)
    report = install.install(env, system=False, dry_run=False, force=False)
    assert report.problems == 0
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.json"))
    assert written == sorted(Path(d) / f"{HOST_NAME}.json" for d in expected)
    for relative in written:
        path = tmp_path / relative
        data = manifest_at(path)
        assert data["name"] == HOST_NAME == path.stem
        assert data["type"] == "stdio"
        assert data["allowed_extensions"] == [ADDON_ID]
        assert data["path"] == str(host_executable()) and Path(str(data["path"])).is_absolute()
        assert os.access(str(data["path"]), os.X_OK)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert install.doctor(env, system=False).problems == 0
    removed = install.uninstall(env, system=False, dry_run=False)
    assert removed.problems == 0
    assert list(tmp_path.rglob("*.json")) == []


def test_windows_install_uses_the_registry_and_a_bat_launcher(tmp_path: Path) -> None:
    registry = DictRegistry()
    env = env_for("win32", tmp_path, registry=registry)
    assert install.install(env, system=False, dry_run=False, force=False).problems == 0
    manifest = tmp_path / "AppData" / "Local" / "sma-host" / f"{HOST_NAME}.json"
    assert registry.values == {
        ("HKCU", rf"Software\Mozilla\NativeMessagingHosts\{HOST_NAME}"): str(manifest)
    }
    launcher = Path(str(manifest_at(manifest)["path"]))
    assert launcher.name == "sma-host.bat"
    assert "-u -m sma_host" in launcher.read_text()
    assert install.doctor(env, system=False, importable=lambda _m: True).problems == 0
    install.uninstall(env, system=False, dry_run=False)
    assert registry.values == {} and not manifest.exists() and not launcher.exists()


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    report = install.install(env_for("linux", tmp_path), system=False, dry_run=True, force=False)
    assert any(line.startswith("write ") for line in report.lines)
    assert list(tmp_path.rglob("*")) == []


def test_root_with_user_is_refused_unless_forced(tmp_path: Path) -> None:
    env = env_for("linux", tmp_path)
    env.is_root = True
    refused = install.install(env, system=False, dry_run=False, force=False)
    assert refused.problems == 1 and "root" in refused.lines[0]
    assert list(tmp_path.rglob("*.json")) == []
    assert install.install(env, system=False, dry_run=False, force=True).problems == 0


def test_uninstall_leaves_foreign_files_alone(tmp_path: Path) -> None:
    env = env_for("linux", tmp_path)
    target = tmp_path / ".mozilla" / "native-messaging-hosts" / f"{HOST_NAME}.json"
    target.parent.mkdir(parents=True)
    target.write_text('{"name": "something_else"}')
    assert install.uninstall(env, system=False, dry_run=False).problems == 1
    assert target.exists()


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("missing", "no host manifest"),
        ("not_json", "not readable JSON"),
        ("wrong_name", "must match the file name"),
        ("wrong_type", "type must be"),
        ("wrong_id", "allowed_extensions"),
        ("relative_path", "must be absolute"),
        ("not_executable", "not executable"),
        ("missing_module", "lacks Python modules"),
        ("snap", "sandboxed Thunderbird"),
    ],
)
def test_doctor_finds_each_planted_fault(tmp_path: Path, fault: str, expected: str) -> None:
    env = env_for("linux", tmp_path)
    install.install(env, system=False, dry_run=False, force=False)
    manifest = tmp_path / ".mozilla" / "native-messaging-hosts" / f"{HOST_NAME}.json"
    data = manifest_at(manifest)
    importable = lambda _m: True  # noqa: E731
    if fault == "missing":
        manifest.unlink()
    elif fault == "not_json":
        manifest.write_text("{nope")
    elif fault == "wrong_name":
        data["name"] = "org.autocrypt-sma"
    elif fault == "wrong_type":
        data["type"] = "storage"
    elif fault == "wrong_id":
        data["allowed_extensions"] = ["someone@else"]
    elif fault == "relative_path":
        data["path"] = "bin/sma-host"
    elif fault == "not_executable":
        plain = tmp_path / "not-executable"
        plain.write_text("#!/bin/sh\n")
        data["path"] = str(plain)
    elif fault == "missing_module":
        importable = lambda m: m != "spake2"  # noqa: E731
    elif fault == "snap":
        env.home = tmp_path
        (tmp_path / ".local/share/flatpak/app/org.mozilla.Thunderbird").mkdir(parents=True)
    if fault not in ("missing", "not_json", "missing_module", "snap"):
        manifest.write_text(json.dumps(data))
    report = install.doctor(env, system=False, importable=importable)
    assert report.problems >= 1
    assert any(expected in line for line in report.lines if line.startswith("PROBLEM")), (
        report.lines
    )


def test_the_cli_round_trip_as_a_user_would(tmp_path: Path) -> None:
    exe = str(host_executable())
    env = {**os.environ, "HOME": str(tmp_path)}
    done = subprocess.run(
        [exe, "install", "--user", "--force"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = tmp_path / ".mozilla" / "native-messaging-hosts" / f"{HOST_NAME}.json"
    assert manifest_at(manifest)["path"] == exe
    doctor = subprocess.run([exe, "doctor"], env=env, capture_output=True, text=True, timeout=60)
    assert doctor.returncode == 0, doctor.stdout
    gone = subprocess.run([exe, "uninstall"], env=env, capture_output=True, text=True, timeout=60)
    assert gone.returncode == 0 and not manifest.exists()
    broken = subprocess.run([exe, "doctor"], env=env, capture_output=True, text=True, timeout=60)
    assert broken.returncode == 1 and "PROBLEM" in broken.stdout
