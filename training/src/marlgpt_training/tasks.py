"""Task lists for zero-shot evaluation: the tasks a model trains on and those it is scored on.

A task file (YAML, e.g. ``training/configs/tasks/zero-shot.yaml``) names, per environment, a
``train`` and a ``test`` list. ``marlgpt generate --tasks FILE`` draws its episodes from the
environment's ``train`` tasks only, and ``marlgpt eval --tasks FILE`` scores on its ``test``
tasks only; a file in which a task is in both lists is refused, so a held-out task never
leaks into training data. Level-Based Foraging reads task lists (a task: field size, players,
foods), and so does the warehouse (a task: size name, agents); POGEMA's held-out counterpart is
a map set of a kind the data does not draw (``scripts/make_map_set.py``, docs/benchmark.md).
"""
import argparse
from pathlib import Path
from typing import Dict, List, Tuple, Union

import yaml

#: The environments whose generators and evaluations read task lists: the kinds of a task's
#: values, and how to say them.
FORMS = {"lbf": ((int, int, int), "tasks of integers [field size, players, foods]"),
         "rware": ((str, int), "tasks [size, agents], e.g. [tiny, 4]")}
READERS = tuple(FORMS)
SPLITS = ("train", "test")

Task = Tuple[Union[int, str], ...]


def refused(args: argparse.Namespace) -> List[str]:
    """The problem of a command's ``--tasks`` for an environment that reads no task lists."""
    if getattr(args, "tasks", None) is None or args.env in READERS:
        return []
    return [f"--tasks: {args.env} reads no task lists (only {', '.join(READERS)})"]


def load(path: "str | Path", env: str) -> Dict[str, List[Task]]:
    """``env``'s train and test tasks from the task file at ``path``; a ValueError that says
    what is wrong (no such environment in the file, an empty list, a task in both lists)."""
    if env not in READERS:
        raise ValueError(f"--tasks: {env} reads no task lists (only {', '.join(READERS)})")
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ValueError(f"--tasks {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"--tasks {path}: not valid YAML ({exc})") from None
    entry = data.get(env) if isinstance(data, dict) else None
    if not isinstance(entry, dict):
        raise ValueError(f"--tasks {path}: no '{env}:' section with train and test lists")
    lists: Dict[str, List[Task]] = {}
    for split in SPLITS:
        items = entry.get(split)
        if not isinstance(items, list) or not items:
            raise ValueError(f"--tasks {path}: {env}.{split} must be a non-empty list")
        kinds, form = FORMS[env]
        try:
            lists[split] = [_task(item, kinds) for item in items]
        except (TypeError, ValueError):
            raise ValueError(f"--tasks {path}: {env}.{split} must list {form}, "
                             f"got {items!r}") from None
    leaked = sorted(set(lists["train"]) & set(lists["test"]))
    if leaked:
        raise ValueError(f"--tasks {path}: {env} task(s) {leaked} are in both train and test: "
                         "a held-out task must not be trained on")
    return lists


def _task(item: object, kinds: tuple) -> Task:
    """One task of ``kinds``' values (TypeError / ValueError when it is not one)."""
    if not isinstance(item, (list, tuple)) or len(item) != len(kinds):
        raise ValueError(item)
    out = []
    for value, kind in zip(item, kinds, strict=True):
        if isinstance(value, bool) or (kind is str) != isinstance(value, str):
            raise TypeError(value)
        out.append(kind(value))
    return tuple(out)
