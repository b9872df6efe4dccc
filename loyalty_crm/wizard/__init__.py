from . import loyalty_card_replace_wizard
from . import loyalty_enrol_wizard
from . import loyalty_card_update_balance
from . import loyalty_sale_redeem_wizard
from . import loyalty_privacy_wizard
