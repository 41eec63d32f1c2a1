"""Training recipes: the shipped generator's schedule as commands, and the Retrain tab's use of fine-tune."""

import pytest

from anonymizer.training import cli
from anonymizer.training.recipes import RECIPES, prepare_command, train_commands


def _opt(argv, flag):
    return argv[argv.index(flag) + 1] if flag in argv else None


def test_the_shipped_recipe_is_the_model_cards_schedule():
    commands = train_commands("shipped", "data/faces64", "runs/x")
    assert [_opt(c, "--steps") for c in commands] == ["4000", "12000", "18000"]
    assert [_opt(c, "--rec-weight") for c in commands] == ["4.0", "1.0", "1.0"]
    assert [_opt(c, "--colour-weight") for c in commands] == [None, None, "5.0"]
    for c in commands:  # the same run, resumed phase by phase, from random weights at batch 32
        assert c[:5] == ["train", "--data", "data/faces64", "--out", "runs/x"]
        assert _opt(c, "--init") == "none" and _opt(c, "--batch-size") == "32" and _opt(c, "--width") == "16"
    assert prepare_command("shipped", "faces", "d") == [
        "prepare",
        "--input",
        "faces",
        "--out",
        "d",
        "--resolution",
        "64",
        "--context",
        "2.0",
    ]


@pytest.mark.parametrize(
    "steps, want",
    [
        (10000, [("4000", "4.0", None), ("10000", "1.0", None)]),
        (30000, [("4000", "4.0", None), ("12000", "1.0", None), ("30000", "1.0", "5.0")]),
        (100, [("100", "4.0", None)]),
    ],
)
def test_stopping_a_recipe_early_or_late_keeps_the_phase_in_force(steps, want):
    commands = train_commands("shipped", "d", "o", {"--steps": steps})
    assert [(_opt(c, "--steps"), _opt(c, "--rec-weight"), _opt(c, "--colour-weight")) for c in commands] == want


def test_fine_tune_is_one_run_whatever_its_length_and_overrides_win():
    (argv,) = train_commands("fine-tune", "d", "o", {"--steps": 5000, "--init": "none", "--batch-size": 8})
    assert _opt(argv, "--steps") == "5000" and _opt(argv, "--init") == "none" and _opt(argv, "--batch-size") == "8"
    assert _opt(argv, "--colour-weight") == RECIPES["fine-tune"].options["colour_weight"].__str__()
    with pytest.raises(ValueError, match="unknown recipe"):
        train_commands("nope", "d", "o")


def test_the_recipe_command_prints_what_it_would_run(capsys):
    assert cli.main(["recipe", "shipped", "--data", "d", "--out", "o", "--photos", "faces", "--print"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("anonymize-train prepare --input faces --out d")
    assert len(lines) == 4 and all(line.startswith("anonymize-train train --data d --out o") for line in lines[1:])


def test_every_recipe_is_a_command_the_trainer_takes():
    parser = cli.build_parser()
    for name in RECIPES:
        for argv in train_commands(name, "d", "o"):
            parser.parse_args(argv)  # an unknown flag or a bad value exits
        parser.parse_args(["recipe", name, "--data", "d", "--out", "o"])  # and 'recipe' names every one


def test_resume_trains_the_race_arm_by_default_each_recipe_in_its_own_state():
    from anonymizer.training.recipes import RESUMED

    parser = cli.build_parser()
    assert parser.parse_args(["resume"]).recipe == RESUMED
    assert parser.parse_args(["resume", "--recipe", "aligned"]).recipe == "aligned"
    states = [r.state for r in RECIPES.values() if r.state]
    assert len(states) == len(set(states)) >= 2, "two designs trained on and on never share a state"
    assert RECIPES[RESUMED].state and RECIPES[RESUMED].run
    (argv,) = train_commands("aligned-projected", "d", "o")
    assert _opt(argv, "--discriminator") == "projected" and "--masked-targets" in argv
    assert _opt(argv, "--fm-weight") is None  # feature matching needs the dcgan discriminator
    with pytest.raises(SystemExit):
        parser.parse_args(["resume", "--recipe", "fine-tune"])  # not one that is trained on and on


@pytest.fixture
def resume(tmp_path, monkeypatch):
    """``anonymize-train resume`` on prepared data (a finished folder, empty), the ``train`` it would run recorded,
    not run; returns (run it with these arguments -> exit code, the train argument lists recorded)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.json").write_text("{}")
    (data / ".complete").write_text("")
    ran = []
    real_main = cli.main
    monkeypatch.setattr(cli, "main", lambda argv: ran.append(argv) or 0)
    return (lambda *args: real_main(["resume", "--data", str(data), *args])), ran


def _with_recipe(monkeypatch, name, **changes):
    import dataclasses

    from anonymizer.training import recipes

    recipe = dataclasses.replace(RECIPES[name], **changes)
    monkeypatch.setitem(recipes.RECIPES, name, recipe)
    return recipe


def test_a_recipes_first_run_starts_from_a_copy_of_its_start_and_then_from_its_own_state(tmp_path, monkeypatch, resume):
    """aligned-wide: the wider generator over the aligned arm's state. While its own state folder holds nothing,
    resume copies the start state into it (never changing the start) and trains from there; afterwards its own."""
    (argv,) = train_commands("aligned-wide", "d", "o")
    assert _opt(argv, "--width") == "24" and _opt(argv, "--d-width") == "16"  # the discriminator goes on as trained
    assert _opt(argv, "--fm-weight") == "1.0" and _opt(argv, "--discriminator") is None  # the DCGAN one
    start = tmp_path / "start"
    start.mkdir()
    (start / "generator.safetensors").write_bytes(b"start's weights")
    (start / "state.safetensors").write_bytes(b"start's discriminator")
    own = tmp_path / "own"
    recipe = _with_recipe(monkeypatch, "aligned-wide", state=str(own), start=str(start))
    assert recipe.starts_from() == str(start)
    run, ran = resume
    assert run("--recipe", "aligned-wide", "--run", str(tmp_path / "run")) == 0
    (argv,) = ran
    assert _opt(argv, "--state") == str(own) and _opt(argv, "--width") == "24"
    assert (own / "generator.safetensors").read_bytes() == b"start's weights"
    assert (own / "state.safetensors").read_bytes() == b"start's discriminator"
    assert recipe.starts_from() == str(own)
    (own / "generator.safetensors").write_bytes(b"trained on")  # its own state from then on: no copy over it
    assert run("--recipe", "aligned-wide", "--run", str(tmp_path / "run")) == 0
    assert (own / "generator.safetensors").read_bytes() == b"trained on"
    assert (start / "generator.safetensors").read_bytes() == b"start's weights"


def test_resume_refuses_a_recipe_whose_state_is_not_there_rather_than_start_from_random_weights(
    tmp_path, monkeypatch, capsys, resume
):
    _with_recipe(monkeypatch, "aligned", state=str(tmp_path / "gone"), start=None)
    run, ran = resume
    assert run("--recipe", "aligned") == 2
    assert "no compact state" in capsys.readouterr().err and not ran
    # An empty state folder named on purpose: a fresh start, as asked.
    assert run("--recipe", "aligned", "--state", str(tmp_path / "new")) == 0
    assert len(ran) == 1


def _git(root, *argv):
    import subprocess

    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *argv], check=True, capture_output=True
    )


def test_a_start_that_left_the_tree_is_taken_from_the_history(tmp_path):
    """``REVISION:folder``: the files of that folder at that commit, byte for byte, though the folder is gone;
    a revision or folder that is not there, or holds no compact state, is a clear error and copies nothing."""
    from anonymizer.training.recipes import copy_start

    repo = tmp_path / "repo"
    (repo / "training" / "old").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "training" / "old" / "generator.safetensors").write_bytes(b"old weights\x00\xff")
    (repo / "training" / "old" / "state.safetensors").write_bytes(b"old discriminator")
    (repo / "notes.txt").write_text("no state here")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "state")
    _git(repo, "rm", "-q", "-r", "training/old")
    _git(repo, "commit", "-q", "-m", "the state left the tree")
    assert not (repo / "training" / "old").exists()

    copy_start("HEAD~1:training/old", tmp_path / "new", root=repo)
    assert (tmp_path / "new" / "generator.safetensors").read_bytes() == b"old weights\x00\xff"
    assert (tmp_path / "new" / "state.safetensors").read_bytes() == b"old discriminator"
    for start, why in [("HEAD:training/old", "history"), ("nope:training/old", "history"), ("HEAD~1:", "no compact")]:
        with pytest.raises(ValueError, match=why):
            copy_start(start, tmp_path / "none", root=repo)
        assert not (tmp_path / "none").exists()


def test_resume_takes_a_start_from_the_history_once(tmp_path, monkeypatch, resume):
    """aligned-pose goes on from the aligned arm's state, which left the tree: resume takes it from the history
    into the recipe's own folder, then trains painting from the coarse pose."""
    (argv,) = train_commands("aligned-pose", "d", "o")
    assert _opt(argv, "--landmarks") == "pose" and _opt(argv, "--width") == "24"
    assert RECIPES["aligned-pose"].start.partition(":")[2] == "training/aligned"
    repo = tmp_path / "repo"
    (repo / "s").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "s" / "generator.safetensors").write_bytes(b"from the history")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "state")
    monkeypatch.chdir(repo)
    own = tmp_path / "own"
    _with_recipe(monkeypatch, "aligned-pose", state=str(own), start="HEAD:s")
    run, ran = resume
    assert run("--recipe", "aligned-pose", "--run", str(tmp_path / "run")) == 0
    assert (own / "generator.safetensors").read_bytes() == b"from the history"
    assert _opt(ran[0], "--state") == str(own)
    _with_recipe(monkeypatch, "aligned-pose", state=str(tmp_path / "other"), start="HEAD:gone")
    assert run("--recipe", "aligned-pose", "--run", str(tmp_path / "run")) == 2 and len(ran) == 1


def test_resume_asks_for_a_missing_pack_rather_than_prepare_a_folder_by_its_name(tmp_path, monkeypatch, capsys):
    """``--data x.npz`` names a pack (accelerator.sh's default): when it is missing, resume says how to make it
    and creates nothing, where it used to prepare 2 GB of crops into a folder called x.npz."""
    ran = []
    monkeypatch.setattr(cli, "main", lambda argv: ran.append(argv) or 0)
    photos = tmp_path / "photos"
    photos.mkdir()
    pack = tmp_path / "pack_aligned128.npz"
    assert cli._resume(cli.build_parser().parse_args(["resume", "--data", str(pack), "--photos", str(photos)])) == 2
    assert "anonymize-train pack" in capsys.readouterr().err
    assert not pack.exists() and ran == []


def test_the_turned_heads_recipe_prepares_and_trains_on_its_own_data(tmp_path, monkeypatch):
    """aligned-turned needs every face up to a looser fit: resume prepares that into the recipe's own folder (never
    into the aligned recipes' data/aligned128, which holds the largest faces only), then trains on it."""
    recipe = RECIPES["aligned-turned"]
    assert recipe.data != RECIPES["aligned-pose"].data
    (argv,) = train_commands("aligned-turned", "d", "o")
    assert _opt(argv, "--turned-share") == "0.25" and _opt(argv, "--landmarks") == "pose"
    prepare = prepare_command("aligned-turned", "faces", "d")
    assert _opt(prepare, "--faces") == "every" and _opt(prepare, "--max-residual") == "0.45"
    assert _opt(prepare, "--frame") == "aligned" and _opt(prepare, "--resolution") == "128"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    state = tmp_path / "state"
    state.mkdir()
    (state / "generator.safetensors").write_bytes(b"weights")
    _with_recipe(monkeypatch, "aligned-turned", state=str(state), start=None)
    ran = []

    def main(argv):  # records the commands; 'prepare' makes its folder, as the real one does
        ran.append(argv)
        if "prepare" in argv:
            (tmp_path / _opt(argv, "--out")).mkdir(parents=True)
        return 0

    monkeypatch.setattr(cli, "main", main)
    args = cli.build_parser().parse_args(["resume", "--recipe", "aligned-turned", "--photos", "photos"])
    assert cli._resume(args) == 0
    prepared, trained = ran
    assert prepared[prepared.index("prepare") :][:5] == ["prepare", "--input", "photos", "--out", recipe.data]
    assert _opt(trained, "--data") == recipe.data and _opt(trained, "--state") == str(state)
    assert (tmp_path / recipe.data / ".complete").is_file()
