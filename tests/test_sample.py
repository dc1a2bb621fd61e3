from __future__ import annotations

from conftest import ROOT, SAMPLE

from newsletter.rendering.project import Project


def test_sample_issue_renders_with_its_layout() -> None:
    loaded, rendered = Project(ROOT / "issues", ROOT / "layouts").render(SAMPLE)
    html = rendered.sample_html({"first_name": "Sam", "unsubscribe_url": "https://example.org/u"})
    assert loaded.issue.layout == "pom-limburg"
    assert "Kempische Steenweg 303 / bus 101" in html
    assert "Beste Sam," in html
