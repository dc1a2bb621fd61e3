"""Composing: a rendered issue and one recipient become the bytes of one email."""
