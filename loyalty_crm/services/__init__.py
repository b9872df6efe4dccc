from . import api
from . import openapi
