from . import loyalty_card_replace_wizard
from . import loyalty_enrol_wizard
from . import loyalty_card_update_balance
from . import loyalty_sale_redeem_wizard
from . import loyalty_adjust_wizard
from . import loyalty_campaign_launch_wizard
