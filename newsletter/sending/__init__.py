"""Transports: how a finished message leaves the machine (SMTP, an outbox folder, or memory)."""
