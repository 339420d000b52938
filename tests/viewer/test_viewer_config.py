"""Viewer options: ``nerfplex train --viewer.*`` flags and their checks."""

from __future__ import annotations

import pytest

from nerfplex.errors import NerfplexError
from nerfplex.viewer.config import ViewerConfig, check_viewer_config, take_viewer_flags


def test_viewer_flags_are_taken_out_of_the_training_arguments():
    config, rest = take_viewer_flags(
        [
            "--trainer.max-steps",
            "3",
            "--viewer",
            "--viewer.port",
            "9001",
            "--viewer.render-share=0.3",
            "--viewer.no-keep-open",
        ]
    )
    assert rest == ["--trainer.max-steps", "3"]
    assert (config.port, config.render_share, config.keep_open, config.host) == (9001, 0.3, False, "127.0.0.1")


def test_no_viewer_flag_means_no_viewer():
    assert take_viewer_flags(["--trainer.max-steps", "3"]) == (None, ["--trainer.max-steps", "3"])


def test_an_option_alone_switches_the_viewer_on():
    config, rest = take_viewer_flags(["--viewer.port", "9002"])
    assert config.port == 9002 and rest == []


@pytest.mark.parametrize(
    "field, value, flag",
    [
        ("render_share", 1.0, "--viewer.render-share"),
        ("port", 70000, "--viewer.port"),
        ("max_resolution", 10, "--viewer.max-resolution"),
    ],
)
def test_invalid_options_name_their_flag(field, value, flag):
    config = ViewerConfig(**{field: value})
    with pytest.raises(NerfplexError, match=flag):
        check_viewer_config(config)


def test_loopback_by_default():
    assert ViewerConfig().is_loopback and not ViewerConfig(host="0.0.0.0").is_loopback
