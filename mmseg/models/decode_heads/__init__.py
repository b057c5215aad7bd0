from .decode_head import *  # noqa: F401,F403
from .aspp_head import *  # noqa: F401,F403
from .daformer_head import *  # noqa: F401,F403
from .segformer_head import *  # noqa: F401,F403
from .dlv2_head import *  # noqa: F401,F403
from .hrda_head import *  # noqa: F401,F403
