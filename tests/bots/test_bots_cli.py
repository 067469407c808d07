"""`chinwag bots import/export/versions/rollback` against a real database, as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers import chinwag


@pytest.mark.slow
async def test_import_export_versions_rollback(database_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo = "src/chinwag/bots/demo/vinhuset.yaml"
    code, out, err = await chinwag(database_url, "bots", "import", demo, data_dir=data)
    assert code == 1 and "knowledge_index_not_found" in out and "nothing was imported" in err
    # The index a bot names is created from its YAML file, before the bot exists.
    code, out, err = await chinwag(database_url, "knowledge", "create", demo, data_dir=data)
    assert code == 0 and "'vinhuset'" in out and "384" in out, out
    code, out, err = await chinwag(
        database_url, "bots", "import", "examples/bokhylla.yaml", demo, data_dir=data
    )
    assert code == 0, out + err
    assert "knowledge_index_empty" in out  # a warning: importing goes on
    assert "bokhylla: saved as version 1" in out and "vinhuset: saved as version 1" in out
    code, out, err = await chinwag(database_url, "bots", "import", "examples/bokhylla.yaml")
    assert "bokhylla: unchanged at version 1" in out

    code, exported, err = await chinwag(database_url, "bots", "export", "vinhuset")
    assert code == 0
    document = yaml.safe_load(exported)
    # File references are inlined: the export stands alone and imports again unchanged.
    assert "Korketrekkersmauet" in document["flows"]["main"]["system"]
    assert document["flows"]["statistics"]["data"]["wines"].startswith("name,producer")
    (tmp_path / "vinhuset.yaml").write_text(exported)
    document["name"] = "Vinhuset (edited)"
    (tmp_path / "edited.yaml").write_text(yaml.safe_dump(document))

    code, out, err = await chinwag(
        database_url, "bots", "import", str(tmp_path / "vinhuset.yaml"), data_dir=data
    )
    assert "vinhuset: unchanged at version 1" in out
    code, out, err = await chinwag(
        database_url, "bots", "import", str(tmp_path / "edited.yaml"), data_dir=data
    )
    assert "vinhuset: saved as version 2" in out
    code, out, err = await chinwag(database_url, "bots", "rollback", "vinhuset", "1")
    assert code == 0 and "active again as version 3" in out
    code, out, err = await chinwag(database_url, "bots", "versions", "vinhuset")
    lines = out.strip().splitlines()
    assert len(lines) == 3 and lines[2].startswith("* 3") and "rollback to version 1" in lines[2]
    code, out, _ = await chinwag(database_url, "bots", "export", "vinhuset")
    assert yaml.safe_load(out)["name"] == "Vinhuset"


async def test_import_refuses_a_file_with_errors(database_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nname: X\nflows:\n  main: {template: '{{ mesage }}'}\n")
    code, out, err = await chinwag(database_url, "bots", "import", str(broken))
    assert code == 1
    assert "template_unknown_variable" in out and "nothing was imported" in err
    code, out, err = await chinwag(database_url, "bots", "export", "x")
    assert code == 1 and out == "" and "bot 'x' does not exist" in err and "hint:" in err
