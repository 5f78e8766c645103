"""Settings: defaults, a full file, every kind of wrong key or value, where the file is found, and the
example file and README listing every key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.rules import Thresholds, load_thresholds
from pipeline.settings import DEFAULT_SETTINGS, SETTINGS_FILENAME, Settings, SettingsError, load_settings, settings_keys

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "crimetrends.example.toml"

FULL = """
[report]
title = "Trends of Crime"
organisation = "BSEC PERMIS"
working_group = "WG Crime"
coordinator = "Nino Beridze, nino@example.org"
status_line = "Final"
source_line = "Source: member states"
population_source = "UN WPP 2024"

[collection]
deadline = "03-31"

[validation]
change_pct = 40
outlier_min_years = 5

[charts]
trend_years = 8
low_coverage_share = 0.6

[key_findings]
regional = 2
national = 4
min_states = 5
national_change_pct = 75.5
national_change_min = 20

[outputs]
pdf = false
data_annex = false
feedback = false
"""


def write(folder: Path, text: str, name: str = SETTINGS_FILENAME) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_without_a_file_the_defaults(tmp_path):
    assert load_settings(None, tmp_path) == DEFAULT_SETTINGS
    assert DEFAULT_SETTINGS.deadline_for(2025) == dt.date(2026, 2, 15)
    assert DEFAULT_SETTINGS.thresholds(load_thresholds()) == load_thresholds()


def test_a_full_file_sets_every_field(tmp_path):
    path = write(tmp_path, FULL)
    settings = load_settings(path, tmp_path / "elsewhere")
    assert settings == Settings(
        report_title="Trends of Crime", organisation="BSEC PERMIS", working_group="WG Crime", coordinator="Nino Beridze, nino@example.org",
        status_line="Final", source_line="Source: member states", population_source="UN WPP 2024", deadline="03-31",
        validation={"change_pct": 40.0, "outlier_min_years": 5}, trend_years=8, low_coverage_share=0.6,
        key_findings_regional=2, key_findings_national=4, key_findings_min_states=5, national_change_pct=75.5, national_change_min=20.0,
        pdf=False, data_annex=False, feedback=False, file=str(path),
    )
    assert settings.deadline_for(2025) == dt.date(2026, 3, 31)
    thresholds = settings.thresholds(load_thresholds())
    assert thresholds == dataclasses.replace(load_thresholds(), change_pct=40.0, outlier_min_years=5)
    assert isinstance(thresholds.outlier_min_years, int) and isinstance(thresholds.change_pct, float)


def test_a_deadline_given_as_a_date_is_used_as_it_stands(tmp_path):
    settings = load_settings(write(tmp_path, "[collection]\ndeadline = 2026-03-01\n"), tmp_path)
    assert settings.deadline == "2026-03-01" and settings.deadline_for(2025) == dt.date(2026, 3, 1)


def test_the_file_in_the_current_folder_is_found_and_an_explicit_one_wins(tmp_path):
    write(tmp_path, '[report]\nstatus_line = "From the folder"\n')
    assert load_settings(None, tmp_path).status_line == "From the folder"
    other = write(tmp_path, '[report]\nstatus_line = "Named"\n', "other.toml")
    assert load_settings(other, tmp_path).status_line == "Named"


@pytest.mark.parametrize(("text", "message"), [
    ("[reprot]\ntitle = 'x'\n", "unknown section [reprot] (did you mean 'report'?); sections: [report], [collection], [validation], [charts], [key_findings], [outputs]"),
    ("[report]\ntitel = 'x'\n", "[report] unknown key 'titel' (did you mean 'title'?); keys of [report]: title, organisation, working_group, coordinator, status_line, source_line, population_source"),
    ("title = 'x'\n", "'title' must be inside a section: put it under [report]"),
    ("[charts]\ntrend_years = 'ten'\n", '[charts] trend_years must be a whole number, not "ten"'),
    ("[charts]\ntrend_years = 8.5\n", "[charts] trend_years must be a whole number, not 8.5"),
    ("[charts]\ntrend_years = true\n", "[charts] trend_years must be a whole number, not true"),
    ("[charts]\ntrend_years = 1\n", "[charts] trend_years must be from 2 to 50, not 1"),
    ("[charts]\nlow_coverage_share = 1.5\n", "[charts] low_coverage_share must be from 0 to 1, not 1.5"),
    ("[key_findings]\nnational_change_pct = -1\n", "[key_findings] national_change_pct must be at least 0, not -1"),
    ("[report]\ntitle = 3\n", "[report] title must be text in quotes, not 3"),
    ("[report]\ntitle = ' '\n", "[report] title must not be empty"),
    ("[outputs]\npdf = 'no'\n", '[outputs] pdf must be true or false, not "no"'),
    ("[collection]\ndeadline = 'Feb 15'\n", '[collection] deadline must be a month and day "MM-DD"'),
    ("[collection]\ndeadline = '02-30'\n", '[collection] deadline must be a month and day "MM-DD"'),
    ("[validation]\nchange_percent = 40\n", "[validation] unknown key 'change_percent' (did you mean 'change_pct'?); keys of [validation]: change_pct, change_abs_min"),
    ("[validation]\noutlier_min_years = 0\n", "[validation] outlier_min_years must be at least 1, not 0"),
    ("[validation]\nchange_pct = '40'\n", '[validation] change_pct must be a number, not "40"'),
    ("[report\ntitle = 'x'\n", "not valid TOML"),
    ("report = 3\n", "[report] must be a section"),
])
def test_a_wrong_key_or_value_names_the_file_section_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as raised:
        load_settings(path, tmp_path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_a_wrong_setting_is_one_line_and_exit_code_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "[report]\ntitel = 'x'\n")
    (tmp_path / "inputs").mkdir()
    result = CliRunner().invoke(main, ["status", "--year", "2025", "--inputs", "inputs", "--outputs", "outputs"])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"crimetrends: {tmp_path / SETTINGS_FILENAME}: [report] unknown key 'titel' (did you mean 'title'?); keys of [report]: title, organisation, working_group, coordinator, status_line, source_line, population_source"
    assert not (tmp_path / "outputs").exists(), "nothing is done with wrong settings"
    explicit = write(tmp_path, "[charts]\ntrend_years = 0\n", "wrong.toml")
    result = CliRunner().invoke(main, ["--settings", str(explicit), "status", "--year", "2025", "--inputs", "inputs"])
    assert result.exit_code == 2 and "wrong.toml: [charts] trend_years must be from 2 to 50, not 0" in result.stderr
    missing = CliRunner().invoke(main, ["status", "--year", "2025", "--settings", str(tmp_path / "nowhere.toml")])
    assert missing.exit_code == 2 and "nowhere.toml" in missing.output


# -- the example file and the README list every key ----------------------------------------------------
def _uncommented(text: str) -> str:
    """The example with every `# key = value` line uncommented."""
    return re.sub(r"^# (\w+ = )", r"\1", text, flags=re.MULTILINE)


def test_the_example_file_loads_and_lists_every_key_with_its_default(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    assert load_settings(EXAMPLE, tmp_path) == dataclasses.replace(DEFAULT_SETTINGS, file=str(EXAMPLE)), "every key is commented out"
    data = tomllib.loads(_uncommented(text))
    assert {section: list(keys) for section, keys in data.items()} == settings_keys()
    uncommented = load_settings(write(tmp_path, _uncommented(text)), tmp_path)
    defaults = dataclasses.replace(DEFAULT_SETTINGS, file=uncommented.file, validation=uncommented.validation)
    assert uncommented == defaults
    assert Thresholds(**uncommented.validation) == load_thresholds(), "the [validation] values shown are the reference CSV's"


def test_the_readme_documents_every_key_with_its_default():
    readme = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    section = readme.split("\n## Keys\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:5] for line in section.splitlines() if line.startswith("| `[")]
    documented = {(cells[0].strip(" `[]"), cells[1].strip(" `")): cells[2].strip() for cells in rows}
    expected = {(section, key) for section, keys in settings_keys().items() for key in keys}
    assert set(documented) == expected, (sorted(expected - set(documented)), sorted(set(documented) - expected))
    example = tomllib.loads(_uncommented(EXAMPLE.read_text(encoding="utf-8")))
    for (section, key), default in documented.items():
        value = example[section][key]
        shown = str(value).lower() if isinstance(value, bool) else value if isinstance(value, str) else repr(value)
        assert default.startswith(f'"{shown}"' if isinstance(value, str) else shown), (section, key, default, shown)
