"""Issue 12, item 4: the CLI agrees with itself. One flag means one thing everywhere: same long name,
same short form, same help; commands are registered explicitly; --option is parsed one way."""

from collections import defaultdict

import typer

from memcap.cli import app
from memcap.cli.app import COMMANDS

#: flags whose help must be word for word the same in every command that takes them
SHARED_HELP = {"--label", "--task", "--json", "--quiet", "--force", "--format", "--output", "--option",
               "--tol", "--seed", "--precision", "--max-seconds", "--ray", "--workers", "--widths"}


def _options():
    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        for p in cmd.params:
            if getattr(p, "opts", None) and p.param_type_name == "option":
                longs = [o for o in p.opts if o.startswith("--")]
                shorts = sorted(o for o in [*p.opts, *p.secondary_opts] if not o.startswith("--"))
                yield name, longs[0], tuple(shorts), p.help or ""


def test_same_flag_same_short_form_and_help_everywhere():
    shorts, helps = defaultdict(set), defaultdict(set)
    for _cmd, flag, short, help_ in _options():
        shorts[flag].add(short)
        helps[flag].add(help_)
    bad = {f: s for f, s in shorts.items() if len(s) > 1}
    assert not bad, f"one flag, several short forms: {bad}"
    bad_help = {f: h for f, h in helps.items() if f in SHARED_HELP and len(h) > 1}
    assert not bad_help, f"shared flags with different help: {bad_help}"


def test_each_short_form_is_one_flag():
    owner = defaultdict(set)
    for _cmd, flag, short, _h in _options():
        for s in short:
            owner[s].add(flag)
    assert {s: f for s, f in owner.items() if len(f) > 1} == {}
    assert owner["-o"] == {"--output"} and owner["-m"] == {"--method"} and owner["-O"] == {"--option"}


def test_o_is_always_a_file():
    for _cmd, flag, short, help_ in _options():
        if "-o" in short:
            assert "folder" not in help_.lower(), (flag, help_)


def test_commands_registered_explicitly():
    group = typer.main.get_command(app)
    for mod, fn in COMMANDS:
        assert fn.replace("_", "-") in group.commands, (mod, fn)
    assert {"construct", "verify", "methods", "data"} <= set(group.commands)


def test_json_and_quiet_on_every_command_that_reports():
    flags = defaultdict(set)
    for cmd, flag, _s, _h in _options():
        flags[cmd].add(flag)
    for cmd, fl in flags.items():
        assert "--json" in fl, cmd
