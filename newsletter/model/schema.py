"""The JSON Schema of issue files, which editors (VS Code's YAML extension) use to complete keys and
underline mistakes while someone types. `newsletter schema` writes it; the project commits it as
`issue.schema.json`."""

from __future__ import annotations

import json

from newsletter.model import Issue

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def issue_schema() -> str:
    """The schema document as the committed file holds it: indented JSON, UTF-8 as it is, one
    newline at the end."""
    document = Issue.model_json_schema()
    document["$schema"] = DRAFT
    document["title"] = "Newsletter issue"
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
