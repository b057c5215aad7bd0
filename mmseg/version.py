"""Version of the mic-seg distribution (package ``mmseg``)."""
__version__ = '0.1.0'
