"""`newsletter doctor`: whether mail from this setup will arrive and be shown as it should.

Three parts, each a list of findings that say what to change and where: the From domain's DNS (SPF,
DMARC, the DKIM key; `doctor.dns`), the relay (connection, TLS, login, From accepted; `doctor.relay`),
and a round trip of one real message read back over IMAP (`doctor.round_trip`). It reads no settings:
the CLI hands it what the settings say.
"""
