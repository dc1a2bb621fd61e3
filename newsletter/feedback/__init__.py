"""What comes back after a send, read from the bounce mailbox: delivery status notifications,
complaints (ARF) and unsubscribe requests mailed to the list, each matched to the reader and issue it
is about and recorded in the ledger (`newsletter mailbox`)."""
