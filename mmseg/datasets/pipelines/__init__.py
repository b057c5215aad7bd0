from .compose import *  # noqa: F401,F403
from .loading import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
from .formating import *  # noqa: F401,F403
from .test_time_aug import *  # noqa: F401,F403
