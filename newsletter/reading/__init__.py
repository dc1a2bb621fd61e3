"""Reading: issue files, layouts and the audience, each checked with file, line and field."""
