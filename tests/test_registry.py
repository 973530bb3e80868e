"""The generic registry: registration, aliases, collisions, did-you-mean, entry points."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cyclip_bench import registry as registry_module
from cyclip_bench.errors import UserError
from cyclip_bench.registry import Registry, did_you_mean


def test_register_get_alias_and_names():
    reg: Registry[int] = Registry("widget")
    reg.register("alpha", aliases=("a",))(1)
    reg.add("beta", 2)
    assert reg.get("alpha") == 1
    assert reg.get("a") == 1
    assert reg.canonical("a") == "alpha"
    assert reg.names() == ["alpha", "beta"]
    assert "a" in reg and "gamma" not in reg


def test_collision_is_an_error():
    reg: Registry[int] = Registry("widget")
    reg.add("alpha", 1, aliases=("a",))
    with pytest.raises(ValueError, match="already registered"):
        reg.add("alpha", 2)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("other", 2, aliases=("a",))


def test_unknown_name_suggests_and_lists():
    reg: Registry[int] = Registry("dataset")
    reg.add("cifar10", 1)
    reg.add("cifar100", 2)
    reg.add("imagenet1k", 3)
    with pytest.raises(UserError) as info:
        reg.get("imagenet1")
    message = str(info.value)
    assert "unknown dataset 'imagenet1'" in message
    assert "Did you mean 'imagenet1k'?" in message
    assert "cifar10, cifar100, imagenet1k" in message
    assert "\n" not in message
    assert did_you_mean("zzz", ["cifar10"]) == ""


def test_entry_points_are_loaded_lazily(monkeypatch):
    plugin = object()
    fake = SimpleNamespace(name="plugin-kind", load=lambda: plugin)
    calls = []

    def fake_entry_points(group):
        calls.append(group)
        return [fake] if group == "my.group" else []

    monkeypatch.setattr(registry_module, "entry_points", fake_entry_points)
    reg: Registry[object] = Registry("task kind", entry_point_group="my.group")
    reg.add("builtin", 1)
    assert calls == []
    assert reg.get("plugin-kind") is plugin
    assert reg.names() == ["builtin", "plugin-kind"]
    assert calls == ["my.group"]
