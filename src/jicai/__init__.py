"""jicai (集采): execution monitoring and fund supervision of centralized volume-based procurement."""

__version__ = "0.1.0"
