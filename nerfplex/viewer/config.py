"""Options of the live viewer (``nerfplex train --viewer.*``, ``nerfplex view``)."""

from __future__ import annotations

from dataclasses import dataclass

from nerfplex.errors import NerfplexError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class ViewerConfig:
    """Where the viewer listens and how much of the machine its renders may take."""

    host: str = "127.0.0.1"
    """Interface to listen on. The default lets only this machine in (use an SSH tunnel from another
    one); any other address lets whoever reaches the port watch and steer the run."""
    port: int = 8080
    """Port to listen on (the next free one is used when it is taken; the URL is printed)."""
    render_share: float = 0.2
    """Largest share of the wall-clock time that renders may take from training (0.2: training keeps
    at least ~80% of its speed while a browser watches). Also a slider in the page."""
    moving_resolution: int = 64
    """Longer image side, in pixels, of the quick frame rendered right after the camera moves."""
    quick_frame_seconds: float = 0.12
    """Render time aimed at for the quick frame: with a slow model its longer side drops below
    --viewer.moving-resolution (to 16 px at least), so that a move is answered within about a step."""
    max_resolution: int = 384
    """Longer image side, in pixels, of the refined frame rendered once the camera is still."""
    still_seconds: float = 0.15
    """How long the camera must rest before the refined frame is rendered."""
    refresh_seconds: float = 3.0
    """While training, how often a still view is rendered again to show the progress."""
    slice_seconds: float = 0.25
    """Longest single hold-up of training by a render slice (the quick frame after a move excepted)."""
    keep_open: bool = True
    """After ``nerfplex train --viewer`` finishes, keep serving the page until Ctrl-C."""

    def checks(self) -> list[tuple[str, bool, str]]:
        return [
            ("port", 0 <= self.port <= 65535, "a port number from 0 to 65535"),
            ("render_share", 0 < self.render_share < 1, "a fraction in (0, 1)"),
            ("moving_resolution", self.moving_resolution >= 8, "an integer of at least 8"),
            (
                "max_resolution",
                self.max_resolution >= self.moving_resolution,
                "an integer no smaller than --viewer.moving-resolution",
            ),
            ("quick_frame_seconds", self.quick_frame_seconds > 0, "a positive number of seconds"),
            ("still_seconds", self.still_seconds >= 0, "0 or more seconds"),
            ("refresh_seconds", self.refresh_seconds > 0, "a positive number of seconds"),
            ("slice_seconds", self.slice_seconds > 0, "a positive number of seconds"),
        ]

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS


def check_viewer_config(config: ViewerConfig, prefix: str = "--viewer.") -> ViewerConfig:
    """Raise :class:`NerfplexError` naming the first invalid option (``prefix`` + its flag name)."""
    for field, ok, expected in config.checks():
        if not ok:
            flag = prefix + field.replace("_", "-")
            raise NerfplexError(f"{flag} = {getattr(config, field)!r} is invalid: it must be {expected}.")
    return config


def take_viewer_flags(args: list[str]) -> tuple[ViewerConfig | None, list[str]]:
    """Remove ``--viewer`` and ``--viewer.FIELD VALUE`` from ``args`` (``nerfplex train``); the config
    when any was given (a ``--viewer.*`` option alone also switches the viewer on), else None."""
    import tyro

    mine, rest, wanted, i = [], [], False, 0
    while i < len(args):
        arg = args[i]
        if arg == "--viewer":
            wanted, i = True, i + 1
            continue
        if arg.startswith("--viewer."):
            wanted = True
            option = "--" + arg[len("--viewer.") :]
            mine.append(option)
            takes_value = "=" not in option and not option.startswith(("--keep-open", "--no-keep-open"))
            if takes_value:
                if i + 1 >= len(args):
                    raise NerfplexError(f"{arg} needs a value.")
                mine.append(args[i + 1])
                i += 1
            i += 1
            continue
        rest.append(arg)
        i += 1
    if not wanted:
        return None, rest
    config = tyro.cli(ViewerConfig, args=mine, prog="nerfplex train --viewer")
    return check_viewer_config(config), rest
