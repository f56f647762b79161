"""The model-side commands (train, predict, eval) through Click, bad input included."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import cli
from framepred.predict.predictor import load_predictor, predict_array


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_clean_error(result, code: int, message: str) -> None:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert message in result.output


@pytest.fixture()
def frames(tmp_path) -> Path:
    path = tmp_path / "in.npy"
    np.save(path, (np.random.default_rng(0).random((2, 6, 16, 16)) * 255).astype(np.uint8))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_predict_npy_matches_the_python_api(tiny_ckpt, frames, tmp_path):
    before = digest(frames)
    out = tmp_path / "out.npy"
    result = run("predict", frames, "-o", out, "--horizon", 3, "--model", tiny_ckpt)
    assert result.exit_code == 0, result.output
    y = np.load(out)
    assert y.shape == (2, 3, 16, 16) and y.dtype == np.uint8
    np.testing.assert_array_equal(
        y, predict_array(np.load(frames), 3, load_predictor(tiny_ckpt, "cpu"))
    )
    assert digest(frames) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy", "out.npy"]


def test_predict_bad_input(tiny_ckpt, frames, tmp_path):
    out = tmp_path / "out.npy"
    assert_clean_error(
        run("predict", frames, "-o", out, "--horizon", 2, "--model", "nope"),
        1,
        "no such checkpoint or built-in model: nope",
    )
    assert_clean_error(
        run("predict", frames, "-o", out, "--horizon", 2, "--model", tmp_path / "missing.ckpt"),
        1,
        "no such checkpoint",
    )
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(tiny_ckpt.read_bytes()[:1000])
    assert_clean_error(
        run("predict", frames, "-o", out, "--horizon", 2, "--model", corrupt), 1, "corrupt"
    )
    assert_clean_error(
        run("predict", frames, "-o", out, "--horizon", 0, "--model", tiny_ckpt), 2, "--horizon"
    )
    bad_rank = tmp_path / "rank.npy"
    np.save(bad_rank, np.zeros((4, 4), np.uint8))
    assert_clean_error(
        run("predict", bad_rank, "-o", out, "--horizon", 2, "--model", tiny_ckpt), 1, "rank 3 to 5"
    )
    bad_dtype = tmp_path / "dtype.npy"
    np.save(bad_dtype, np.zeros((4, 8, 8), np.int16))
    assert_clean_error(
        run("predict", bad_dtype, "-o", out, "--horizon", 2, "--model", tiny_ckpt),
        1,
        "uint8 or float",
    )
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert_clean_error(
        run("predict", pickled, "-o", out, "--horizon", 2, "--model", tiny_ckpt), 1, "cannot read"
    )
    assert_clean_error(
        run("predict", tmp_path / "missing.npy", "-o", out, "--horizon", 2), 1, "no such file"
    )
    assert_clean_error(
        run(
            "predict",
            frames,
            "-o",
            tmp_path / "nodir" / "o.npy",
            "--horizon",
            2,
            "--model",
            tiny_ckpt,
        ),
        1,
        "output folder does not exist",
    )
    assert_clean_error(
        run("predict", frames, "-o", frames, "--horizon", 2, "--model", tiny_ckpt), 1, "input path"
    )
    assert not out.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if "partial" in p.name]
    assert not leftovers


def test_existing_output_needs_overwrite(tiny_ckpt, frames, tmp_path):
    out = tmp_path / "out.npy"
    assert run("predict", frames, "-o", out, "--horizon", 2, "--model", tiny_ckpt).exit_code == 0
    earlier = out.read_bytes()  # framepred's own (.npy: listed in its registry)
    assert_clean_error(
        run("predict", frames, "-o", out, "--horizon", 1, "--model", tiny_ckpt), 1, "--overwrite"
    )
    assert out.read_bytes() == earlier
    args = ("predict", frames, "-o", out, "--horizon", 1, "--model", tiny_ckpt, "--overwrite")
    assert run(*args).exit_code == 0
    assert np.load(out).shape == (2, 1, 16, 16)
    out.write_bytes(b"keep me")  # now the user's: never replaced
    assert_clean_error(run(*args), 1, "was not written by framepred")
    assert out.read_bytes() == b"keep me"


def test_train_prints_the_final_checkpoint_last(tmp_path):
    result = run(
        "train",
        "mmnist",
        "--out",
        tmp_path / "run",
        "--preset",
        "tiny",
        "--max-steps",
        2,
        "--batch-size",
        2,
        "--val-every",
        100,
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    last_line = result.stdout.strip().splitlines()[-1]
    assert Path(last_line) == tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert Path(last_line).is_file()


def test_train_bad_usage(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_clean_error(
        run("train", "mmnist", "--out", blocker / "sub", "--preset", "tiny", "--max-steps", 1),
        1,
        "cannot create output folder",
    )
    assert_clean_error(run("train", "mmnist", "--out", tmp_path / "r"), 1, "budget")
    assert_clean_error(
        run("train", "videos/", "--out", tmp_path / "r", "--max-steps", 1),
        1,
        "no such file or folder",
    )
    assert_clean_error(
        run("train", "mmnist", "--out", tmp_path / "r", "--max-steps", 0), 2, "--max-steps"
    )


def test_eval_prints_a_table_with_baselines(tiny_ckpt):
    result = run("eval", "mmnist", "--model", tiny_ckpt, "--sequences", 8, "--batch-size", 4)
    assert result.exit_code == 0, result.output
    rows = {
        line.split("|")[1].strip(): line
        for line in result.stdout.splitlines()
        if line.startswith("| ")
    }
    assert {"framepred", "copy-last", "zeros"} <= set(rows)
    mse = {k: float(v.split("|")[2]) for k, v in rows.items() if k != "method"}
    assert all(v > 0 for v in mse.values())
    assert_clean_error(run("eval", "kitti", "--model", tiny_ckpt), 2, "only 'mmnist'")
