"""The web faces: the live preview server and the static archive site."""
