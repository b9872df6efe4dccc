from . import openapi
