"""The web faces: the live preview server, the static archive site, and the unsubscribe endpoint
(`newsletter serve`)."""
