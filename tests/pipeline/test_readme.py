"""The README's embedded verdict table is the committed report's (so the front page cannot go stale)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_readme_verdicts_match_the_committed_report():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- verdicts:start")
    body = readme[readme.index("\n", start) + 1:readme.index("<!-- verdicts:end -->")].strip()
    table = (REPO / "reports" / "main" / "tables" / "hypotheses.md").read_text(encoding="utf-8").strip()
    assert body == table, "update README.md from reports/main/tables/hypotheses.md"


def test_readme_first_command_runs_the_committed_analyses():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first = readme.split("```bash", 1)[1].split("```", 1)[0]
    for name in ("example", "main", "robustness"):
        assert name in first and (REPO / "analyses" / f"{name}.toml").is_file()
        assert (REPO / "reports" / name / "manifest.json").is_file()
