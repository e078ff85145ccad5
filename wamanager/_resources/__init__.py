"""Resource groups of :class:`~wamanager.WhatsAppManager`, one module each."""

from .deployments import Deployments
from .otp import OTP
from .profiles import Profiles
from .stickerpacks import Stickerpacks
from .stickers import Stickers

__all__ = ["OTP", "Deployments", "Profiles", "Stickerpacks", "Stickers"]
