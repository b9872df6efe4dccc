from . import loyalty_card_replace_wizard
from . import loyalty_enrol_wizard
from . import loyalty_card_update_balance
from . import loyalty_sale_redeem_wizard
from . import loyalty_card_state_wizard
from . import loyalty_consent_wizard
from . import mail_compose_message
from . import loyalty_privacy_wizard
