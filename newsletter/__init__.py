"""newsletter: write a monthly email newsletter as a file and deliver it to every subscriber once."""

__version__ = "0.1.0"
