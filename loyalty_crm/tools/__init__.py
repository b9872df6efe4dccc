from .errors import LoyaltyError, LoyaltyKeyTaken
from .phone import normalize_phone, phone_problem
from .bulk import bulk_insert, insert_query, reserve_ids
