"""``[node]``: a node is named after its host unless told, its site is its name unless told,
and a lease outside its bounds or an unusable name is refused with the key named."""

from __future__ import annotations

import platform
import textwrap
from pathlib import Path

import pytest

from mailwatch.config import MailwatchConfig, load_config
from mailwatch.domain.errors import ConfigError


def load(tmp_path: Path, text: str) -> MailwatchConfig:
    path = tmp_path / "mailwatch.toml"
    path.write_text(textwrap.dedent(text))
    return load_config(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return caught.value.problems


def test_without_a_node_section_the_node_is_the_host(tmp_path: Path) -> None:
    config = load(tmp_path, "")
    node = config.node
    host = platform.node().split(".", 1)[0]
    assert (node.name, node.site, node.lease_s) == (host, host, 30.0)


def test_site_defaults_to_the_name(tmp_path: Path) -> None:
    config = load(tmp_path, '[node]\nname = "mon-a"\n')
    assert config.node.identity.name == "mon-a"
    assert config.node.identity.site == "mon-a"


def test_name_site_and_lease_as_given(tmp_path: Path) -> None:
    config = load(tmp_path, '[node]\nname = "mon-b"\nsite = "dc2"\nlease_s = 12\n')
    node = config.node
    assert (node.name, node.site, node.lease_s) == ("mon-b", "dc2", 12.0)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "lease_s = 1",
            "node.lease_s: Input should be greater than or equal to 2",
        ),
        (
            "lease_s = 7200",
            "node.lease_s: Input should be less than or equal to 3600",
        ),
        (
            'name = "mon a"',
            "node.name: must be 1-63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit; got 'mon a'",
        ),
        (
            'site = "-dc"',
            "node.site: must be 1-63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit; got '-dc'",
        ),
        ("colour = 'blue'", "node.colour: unknown key"),
    ],
)
def test_bad_node_keys_are_named(tmp_path: Path, text: str, problem: str) -> None:
    assert problems(tmp_path, f"[node]\n{text}\n") == [problem]
