from . import test_phone
from . import test_questionnaire
from . import test_cards
from . import test_security
from . import test_ledger
from . import test_sale_cards
from . import test_concurrency
from . import test_ui
