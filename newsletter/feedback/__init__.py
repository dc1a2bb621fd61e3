"""What comes back after a send, read from the bounce mailbox: delivery status notifications,
complaints (ARF) and unsubscribe requests mailed to the list, each matched to the reader and issue it
is about and recorded in the ledger (`newsletter mailbox`).

`classify` tells from a mail's bytes what it is (pure; with `reports` for RFC 3464 and ARF,
`heuristic` for other bounces, `replies` for people's and their mailboxes' mail, `blame` for what a
refusal means, `mail` for reading hostile mail); `handle` matches it to the ledger and records it,
and says what it did in a `verdict`.
"""
