from .tensorboard_logger_hook import UDATensorboardLoggerHook  # noqa: F401

__all__ = ['UDATensorboardLoggerHook']
