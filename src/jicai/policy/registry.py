"""Which policy applies: the bureau's installed policy files, looked up by the id a batch names.

A batch names its policy in ``batches.policy_id`` (blank = ``default``). Policies live as TOML files in
``<data dir>/policies/``, indexed by the ``id`` inside each file (not the file name), next to the bundled ones
(``default`` and ``fujian``, the rules of the demo province); an installed file with a bundled id replaces the
bundled one for that data directory.
``jicai policy install FILE`` validates a file and copies it there; commands resolve the policy of the
batch they run for, unless ``--policy FILE`` overrides it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from jicai.errors import BilingualError
from jicai.policy.models import DEFAULT_PATH, Policy, load_policy

DEFAULT_ID = "default"
# the policies shipped with jicai, by id: the file next to default.toml
BUNDLED = {DEFAULT_ID: DEFAULT_PATH, "fujian": DEFAULT_PATH.with_name("fujian.toml")}


class PolicyLookupError(BilingualError, LookupError):
    """No policy can be chosen for a run: the batch is unknown, or batches name different policies."""


class PolicyNotFound(PolicyLookupError):
    """The policy id a batch (or ``--id``) names is neither bundled nor installed."""

    def __init__(self, policy_id: str, where: Path, known: list[str]):
        super().__init__(
            f"找不到政策 {policy_id!r}(在 {where} 中;已有:{', '.join(known) or '无'}),请先 jicai policy install",
            f"policy {policy_id!r} not found in {where} (known: {', '.join(known) or 'none'}); "
            "run jicai policy install first")


class PolicyFileError(BilingualError, ValueError):
    """An installed policy file is invalid, or two installed files share an id."""


class PolicyConflict(BilingualError, FileExistsError):
    """Installing would silently replace an installed policy of the same id with other content."""


@dataclass(frozen=True)
class PolicyFile:
    id: str
    path: Path
    policy: Policy
    bundled: bool


class PolicyRegistry:
    """The policies of one data directory: the bundled default plus ``<data_dir>/policies/*.toml``."""

    def __init__(self, data_dir: Path):
        self.dir = Path(data_dir) / "policies"

    def files(self) -> dict[str, PolicyFile]:
        """Every available policy by id; an invalid or duplicate file raises with its path."""
        found = {pid: PolicyFile(pid, path, load_policy(path), True) for pid, path in BUNDLED.items()}
        seen: dict[str, Path] = {}
        for path in sorted(self.dir.glob("*.toml")) if self.dir.is_dir() else []:
            try:
                policy = load_policy(path)
            except Exception as exc:  # noqa: BLE001 - re-raised with the file named
                raise PolicyFileError(f"政策文件无效 {path}:{exc}", f"invalid policy file {path}: {exc}") from exc
            if policy.id in seen:
                raise PolicyFileError(f"政策编号重复 {policy.id!r}:{seen[policy.id]} 与 {path}",
                                      f"duplicate policy id {policy.id!r}: {seen[policy.id]} and {path}")
            seen[policy.id] = path
            found[policy.id] = PolicyFile(policy.id, path, policy, False)
        return found

    def get(self, policy_id: str | None) -> Policy:
        policy_id = (policy_id or "").strip() or DEFAULT_ID
        files = self.files()
        if policy_id not in files:
            raise PolicyNotFound(policy_id, self.dir, sorted(files))
        return files[policy_id].policy

    def install(self, path: Path, *, replace: bool = False) -> PolicyFile:
        """Validate ``path`` and copy it to ``<data_dir>/policies/<id>.toml``.

        An installed policy with the same id and other content is replaced only with ``replace`` — results
        already computed keep the version they were computed with, so replacing is safe but deliberate.
        """
        policy = load_policy(path)
        existing = {k: v for k, v in self.files().items() if not v.bundled}
        if policy.id in existing and existing[policy.id].policy.version != policy.version and not replace:
            raise PolicyConflict(
                f"政策 {policy.id!r} 已安装且内容不同(版本 {existing[policy.id].policy.version}),如需替换请加 --replace",
                f"policy {policy.id!r} is installed with other content; pass --replace to replace it")
        self.dir.mkdir(parents=True, exist_ok=True)
        target = existing[policy.id].path if policy.id in existing else self.dir / f"{policy.id}.toml"
        shutil.copyfile(path, target)
        return PolicyFile(policy.id, target, policy, False)


def batch_policy_ids(wh) -> dict[str, str]:
    """batch_id → the policy id it names (blank → ``default``); empty when there is no batches table."""
    if not wh.has_table("batches"):
        return {}
    rows = wh.table("batches").select("batch_id", "policy_id").to_pyarrow().to_pylist()
    return {r["batch_id"]: (r["policy_id"] or "").strip() or DEFAULT_ID for r in rows}


def resolve_policy(data_dir: Path, wh, batch_id: str | None, policy_path: Path | None) -> Policy:
    """The policy a command runs with: ``--policy FILE`` if given, else the policy its batch names.

    Without a batch, every batch must name the same policy (else the caller is asked for ``--batch``);
    with no batches at all, the default.
    """
    if policy_path is not None:
        return load_policy(policy_path)
    ids = batch_policy_ids(wh)
    if batch_id is not None:
        if batch_id not in ids:
            raise PolicyLookupError(f"批次不存在:{batch_id}", f"no such batch: {batch_id}")
        return PolicyRegistry(data_dir).get(ids[batch_id])
    distinct = sorted(set(ids.values()))
    if len(distinct) > 1:
        raise PolicyLookupError(
            f"各批次执行不同政策({', '.join(distinct)}),请用 --batch 逐批计算或用 --policy 指定",
            f"batches name different policies ({', '.join(distinct)}): run per --batch or pass --policy")
    return PolicyRegistry(data_dir).get(distinct[0] if distinct else DEFAULT_ID)
