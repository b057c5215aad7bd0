from .non_finite_loss_hook import NonFiniteLossHook  # noqa: F401
from .preemption_hook import PreemptionHook, StopSignals  # noqa: F401
from .tensorboard_logger_hook import UDATensorboardLoggerHook  # noqa: F401

__all__ = ['NonFiniteLossHook', 'PreemptionHook', 'StopSignals', 'UDATensorboardLoggerHook']
