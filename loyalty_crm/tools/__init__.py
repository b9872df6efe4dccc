from .errors import LoyaltyError
from .phone import normalize_phone, phone_problem
