"""Rendering: an issue and its layout become HTML and plain text with a merge plan, once per issue."""
