from .uda_decorator import *  # noqa: F401,F403
from .dacs import *  # noqa: F401,F403
from .masking_consistency_module import *  # noqa: F401,F403
from .advseg import *  # noqa: F401,F403
from .minent import *  # noqa: F401,F403
from .fc_discriminator import *  # noqa: F401,F403
from .teacher_module import *  # noqa: F401,F403
