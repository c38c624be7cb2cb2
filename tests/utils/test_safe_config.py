"""inert_config: configs from files never call resolvers and cannot expand without bound."""

import pytest
from omegaconf import OmegaConf

from audiocraft.utils.safe_config import UntrustedConfigError, inert_config


def test_resolvers_stay_literal_and_references_work(monkeypatch):
    monkeypatch.setenv("AUDIOCRAFT_TEST_SECRET", "s3cr3t")
    cfg = inert_config(
        "sample_rate: 32000\n"
        "a: ${oc.env:AUDIOCRAFT_TEST_SECRET}\n"
        "b: ${sample_rate}\n"
        "c: x${oc.env:AUDIOCRAFT_TEST_SECRET,${sample_rate}}y\n"
        "d: \\${oc.env:AUDIOCRAFT_TEST_SECRET}\n"
        "e:\n  f: ${oc.decode:'[1, 2]'}\n  g: ${..sample_rate}\n"
        "lr: 1e-4\n")
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert "s3cr3t" not in str(resolved)
    assert resolved["a"] == "${oc.env:AUDIOCRAFT_TEST_SECRET}"
    assert resolved["b"] == 32000 and resolved["e"]["g"] == 32000
    assert resolved["c"] == "x${oc.env:AUDIOCRAFT_TEST_SECRET,${sample_rate}}y"
    assert resolved["d"] == "${oc.env:AUDIOCRAFT_TEST_SECRET}"
    assert resolved["e"]["f"] == "${oc.decode:'[1, 2]'}"
    assert resolved["lr"] == 1e-4  # OmegaConf's YAML rules
    # Written back and read again: still literal.
    again = inert_config(OmegaConf.to_yaml(cfg))
    assert "s3cr3t" not in str(OmegaConf.to_container(again, resolve=True))


def test_dicts_are_made_inert_too(monkeypatch):
    monkeypatch.setenv("AUDIOCRAFT_TEST_SECRET", "s3cr3t")
    cfg = inert_config({"t5": {"name": "${oc.env:AUDIOCRAFT_TEST_SECRET}"}, "sr": 2,
                        "n": [1, "${sr}"]})
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["t5"]["name"].startswith("${oc.env") and resolved["n"] == [1, 2]


@pytest.mark.parametrize("text, message", [
    ("- a\n- b\n", "must be a mapping"),
    ("a: [1, 2\n", "not valid YAML"),
    ("a: " + "x" * 1_000_001, "characters long"),
])
def test_bad_configs_are_refused(text, message):
    with pytest.raises(UntrustedConfigError, match=message):
        inert_config(text)


def test_nested_aliases_cannot_expand_without_bound():
    lines = ["l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 10):  # 10**10 entries once expanded, from a few hundred bytes
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    with pytest.raises(UntrustedConfigError, match="more than 100000 entries"):
        inert_config("\n".join(lines))
