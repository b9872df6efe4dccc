from odoo import fields, models


class LoyaltyNotificationChannel(models.Model):
    _name = "loyalty.notification.channel"
    _description = "Preferred Notification Channel"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Selection(
        [("sms", "SMS"), ("email", "Email"), ("call", "Phone call"), ("none", "None")],
        required=True,
    )
    sequence = fields.Integer(default=10)

    _sql_constraints = [("code_unique", "UNIQUE(code)", "One channel per code.")]
