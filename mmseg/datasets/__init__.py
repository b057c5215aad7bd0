from .builder import DATASETS, PIPELINES, build_dataloader, build_dataset  # noqa: F401
from .pipelines import *  # noqa: F401,F403
from .custom import *  # noqa: F401,F403
from .cityscapes import *  # noqa: F401,F403
from .gta import *  # noqa: F401,F403
from .synthia import *  # noqa: F401,F403
from .acdc import *  # noqa: F401,F403
from .dark_zurich import *  # noqa: F401,F403
from .bdd100k import *  # noqa: F401,F403
from .mapillary import *  # noqa: F401,F403
from .wilddash2 import *  # noqa: F401,F403
from .synscapes import *  # noqa: F401,F403
from .urbansyn import *  # noqa: F401,F403
from .foggy_zurich import *  # noqa: F401,F403
from .foggy_driving import *  # noqa: F401,F403
from .nighttime_driving import *  # noqa: F401,F403
from .uda_dataset import *  # noqa: F401,F403
